import pytest
from hypothesis import given
from hypothesis import strategies as st

from buttress.lib.sizes import human_size

FACTORS = {"byte": 1, "bytes": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


@pytest.mark.parametrize(
    ("size", "text"),
    [
        (0, "0 bytes"),
        (1, "1 byte"),
        (10, "10 bytes"),
        (1023, "1023 bytes"),
        (1024, "1 KB"),
        (1536, "1.5 KB"),
        (25 * 1024 * 1024, "25 MB"),
        (50 * 1024 * 1024, "50 MB"),
        (150 * 1024 * 1024, "150 MB"),
        (3 * 1024**3, "3 GB"),
    ],
)
def test_sizes_read_in_the_largest_unit_they_reach(size, text):
    assert human_size(size) == text


@given(st.integers(min_value=0, max_value=1024**5))
def test_a_size_reads_back_within_five_percent_and_never_as_zero(size):
    number, unit = human_size(size).split(" ")

    assert float(number) >= (0 if size == 0 else 1)
    assert abs(float(number) * FACTORS[unit] - size) <= size * 0.05
