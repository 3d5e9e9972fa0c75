"""The only place that changes users, teams, API tokens, browser sessions and second factors.

Split by topic; everything is importable from here, so callers write
``from buttress.accounts import services`` and ``services.create_user(...)``.
"""

from buttress.accounts.services.sessions import (
    forget_session,
    record_login,
    record_logout,
    rekey_session,
    revoke_all_sessions,
    revoke_session,
    touch_session,
    track_session,
)
from buttress.accounts.services.teams import TEAM_FIELDS, create_team, delete_team, update_team
from buttress.accounts.services.throttle import (
    SIGN_IN_IP_LIMIT,
    SIGN_IN_LIMIT,
    SIGN_IN_WINDOW,
    Throttled,
    check_password_reset_allowed,
    check_sign_in_allowed,
    clear_sign_in_failures,
    note_password_reset_request,
    note_sign_in_failure,
)
from buttress.accounts.services.tokens import (
    LAST_USED_RESOLUTION,
    TOKEN_PREFIX,
    IssuedToken,
    authenticate_token,
    create_token,
    revoke_token,
)
from buttress.accounts.services.twofactor import (
    BACKUP_CODE_COUNT,
    PendingTotp,
    begin_totp_setup,
    confirm_totp,
    disable_two_factor,
    has_two_factor,
    pending_totp,
    regenerate_backup_codes,
    remaining_backup_codes,
    verify_second_factor,
)
from buttress.accounts.services.users import (
    USER_FIELDS,
    FirstAdminExists,
    create_first_admin,
    create_user,
    generate_password,
    set_password,
    update_user,
)

__all__ = [
    "BACKUP_CODE_COUNT",
    "LAST_USED_RESOLUTION",
    "SIGN_IN_IP_LIMIT",
    "SIGN_IN_LIMIT",
    "SIGN_IN_WINDOW",
    "TEAM_FIELDS",
    "TOKEN_PREFIX",
    "USER_FIELDS",
    "FirstAdminExists",
    "IssuedToken",
    "PendingTotp",
    "Throttled",
    "authenticate_token",
    "begin_totp_setup",
    "check_password_reset_allowed",
    "check_sign_in_allowed",
    "clear_sign_in_failures",
    "confirm_totp",
    "create_first_admin",
    "create_team",
    "create_token",
    "create_user",
    "delete_team",
    "disable_two_factor",
    "forget_session",
    "generate_password",
    "has_two_factor",
    "note_password_reset_request",
    "note_sign_in_failure",
    "pending_totp",
    "record_login",
    "record_logout",
    "regenerate_backup_codes",
    "rekey_session",
    "remaining_backup_codes",
    "revoke_all_sessions",
    "revoke_session",
    "revoke_token",
    "set_password",
    "touch_session",
    "track_session",
    "update_team",
    "update_user",
    "verify_second_factor",
]
