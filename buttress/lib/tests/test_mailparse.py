from email import policy
from email.parser import BytesParser

from hypothesis import given
from hypothesis import strategies as st

from buttress.lib import mailparse

HEADERS = ("From", "To", "Subject", "Message-ID", "Content-Type", "References")


def _raw(sender: str, subject: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: Support <support@provider.example>\r\nSubject: {subject}\r\n"
        "Message-ID: <a.1@mail.example>\r\nReferences: <x@y> <z@w>\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n\r\nHello\r\n'
    ).encode("utf-8", "surrogateescape")


header_text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60).map(
    lambda text: text.replace("\r", " ").replace("\n", " ")
)


@given(sender=header_text, subject=header_text)
def test_headers_read_the_same_as_the_standard_library_twice_over(sender, subject):
    raw = _raw(sender, subject)
    reference = BytesParser(policy=policy.default).parsebytes(raw)

    for _ in range(2):
        message = mailparse.parse(raw)
        for name in HEADERS:
            assert mailparse.header(message, name) == mailparse.header(reference, name)
        assert message.get_content_type() == reference.get_content_type()


def test_encoded_subject_is_decoded_from_memory_too():
    raw = _raw("a@b.example", "=?utf-8?q?Caf=C3=A9_au_lait?=")

    first = mailparse.subject(mailparse.parse(raw))
    second = mailparse.subject(mailparse.parse(raw))

    assert first == second == "Café au lait"


def test_remembered_headers_are_bounded():
    for index in range(mailparse.HEADER_MEMORY + 50):
        mailparse.parse(_raw(f"p{index}@org.example", f"Subject {index}"))

    assert len(mailparse.REGISTRY.parsed) <= mailparse.HEADER_MEMORY
