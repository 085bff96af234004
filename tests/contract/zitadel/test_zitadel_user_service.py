"""The official zitadel-client SDK's UserServiceApi enrols authenticators (TOTP, one-time
codes, security keys, passkeys) and its SessionServiceApi then creates and steps up sessions
with them. A software authenticator (conftest.SoftAuthenticator) answers the WebAuthn
ceremonies as a browser with a FIDO2 key would."""

from __future__ import annotations

import json
import time
from typing import Any, Dict
from urllib.parse import urlparse

import pytest
from zitadel_client.exceptions import ApiError
from zitadel_client.models import (
    SessionServiceCheckOTP,
    SessionServiceCheckPassword,
    SessionServiceChecks,
    SessionServiceCheckTOTP,
    SessionServiceCheckUser,
    SessionServiceCheckWebAuthN,
    SessionServiceCreateSessionRequest,
    SessionServiceGetSessionRequest,
    SessionServiceOTPEmail,
    SessionServiceRequestChallenges,
    SessionServiceSetSessionRequest,
    SessionServiceUserVerificationRequirement as Verification,
    SessionServiceWebAuthN,
    UserServiceAddOTPEmailRequest,
    UserServiceAuthFactorState,
    UserServiceAuthenticationMethodType as MethodType,
    UserServiceListAuthenticationMethodTypesRequest,
    UserServiceListPasskeysRequest,
    UserServiceRegisterPasskeyRequest,
    UserServiceRegisterTOTPRequest,
    UserServiceRegisterU2FRequest,
    UserServiceRemoveOTPEmailRequest,
    UserServiceRemovePasskeyRequest,
    UserServiceRemoveTOTPRequest,
    UserServiceRemoveU2FRequest,
    UserServiceVerifyPasskeyRegistrationRequest,
    UserServiceVerifyTOTPRegistrationRequest,
    UserServiceVerifyU2FRegistrationRequest,
)


def error_code(exc: ApiError) -> str:
    body = exc.response_body
    if isinstance(body, (bytes, str)):
        body = json.loads(body or "{}")
    return body.get("code", "") if isinstance(body, dict) else ""


def expect(code: str, fn, *args) -> None:
    with pytest.raises(ApiError) as info:
        fn(*args)
    assert error_code(info.value) == code, f"expected {code}, got HTTP {info.value.code}: {info.value.response_body!r}"


def checks(user, *, password: bool = True, **more) -> SessionServiceChecks:
    return SessionServiceChecks(
        user=SessionServiceCheckUser(user_id=user.id),
        password=SessionServiceCheckPassword(password=user.password) if password else None,
        **more,
    )


def factors(admin, session_id: str):
    return admin.sessions.get_session(SessionServiceGetSessionRequest(session_id=session_id)).session.factors


def request_options(sdk) -> Dict[str, Any]:
    """The WebAuthn request options of the last Create/SetSession answer. Read from the raw
    answer: zitadel-client 4.1.9 decodes `challenges.webAuthN` into the request's
    `SessionServiceWebAuthN` model (its OpenAPI document gives both messages one name), which
    drops `publicKeyCredentialRequestOptions`."""
    return sdk.last.json()["challenges"]["webAuthN"]["publicKeyCredentialRequestOptions"]


def rp_id(target) -> str:
    return urlparse(target.webauthn_origin).hostname


def test_totp_is_registered_in_two_steps_and_steps_up_a_session(admin, make_user, totp_code, whoami):
    user = make_user("user-totp")
    users = admin.zitadel.users
    registered = users.register_totp(UserServiceRegisterTOTPRequest(user_id=user.id))
    assert registered.uri.startswith("otpauth://totp/") and registered.secret in registered.uri
    users.verify_totp_registration(
        UserServiceVerifyTOTPRegistrationRequest(user_id=user.id, code=totp_code(registered.secret))
    )
    expect("already_exists", users.register_totp, UserServiceRegisterTOTPRequest(user_id=user.id))

    created = admin.sessions.create_session(SessionServiceCreateSessionRequest(checks=checks(user)))
    # The verifying code is used up; the next period's code (within the allowed skew) is not.
    next_code = totp_code(registered.secret, at=time.time() + 30)
    stepped = admin.sessions.set_session(
        SessionServiceSetSessionRequest(
            session_id=created.session_id, checks=SessionServiceChecks(totp=SessionServiceCheckTOTP(code=next_code))
        )
    )
    assert stepped.session_token and stepped.session_token != created.session_token
    assert factors(admin, created.session_id).totp.verified_at is not None
    assert whoami(stepped.session_token) == 200

    users.remove_totp(UserServiceRemoveTOTPRequest(user_id=user.id))
    expect("not_found", users.remove_totp, UserServiceRemoveTOTPRequest(user_id=user.id))


def test_email_codes_are_enrolled_by_the_user_itself(admin, make_sdk, make_user):
    user = make_user("user-otp")
    created = admin.sessions.create_session(SessionServiceCreateSessionRequest(checks=checks(user)))
    own = make_sdk(created.session_token)
    own.zitadel.users.add_otp_email(UserServiceAddOTPEmailRequest(user_id=user.id))
    other = make_user("user-otp-other")
    expect("permission_denied", own.zitadel.users.add_otp_email, UserServiceAddOTPEmailRequest(user_id=other.id))

    challenged = admin.sessions.set_session(
        SessionServiceSetSessionRequest(
            session_id=created.session_id,
            challenges=SessionServiceRequestChallenges(otp_email=SessionServiceOTPEmail(return_code={})),
        )
    )
    code = challenged.challenges.otp_email
    stepped = admin.sessions.set_session(
        SessionServiceSetSessionRequest(
            session_id=created.session_id, checks=SessionServiceChecks(otp_email=SessionServiceCheckOTP(code=code))
        )
    )
    assert factors(admin, created.session_id).otp_email.verified_at is not None
    # The step-up rotated the token: the old one no longer works, the new one does.
    expect("unauthenticated", own.zitadel.users.remove_otp_email, UserServiceRemoveOTPEmailRequest(user_id=user.id))
    own = make_sdk(stepped.session_token)
    own.zitadel.users.remove_otp_email(UserServiceRemoveOTPEmailRequest(user_id=user.id))
    expect("not_found", own.zitadel.users.remove_otp_email, UserServiceRemoveOTPEmailRequest(user_id=user.id))


def webauthn_challenge(requirement: Verification, domain: str) -> SessionServiceRequestChallenges:
    return SessionServiceRequestChallenges(
        web_auth_n=SessionServiceWebAuthN(domain=domain, user_verification_requirement=requirement)
    )


def assertion_check(assertion: Dict[str, Any]) -> SessionServiceChecks:
    return SessionServiceChecks(web_auth_n=SessionServiceCheckWebAuthN(credential_assertion_data=assertion))


def test_a_security_key_steps_up_a_password_session(admin, make_user, authenticator, target):
    user = make_user("user-u2f")
    users = admin.zitadel.users
    key = authenticator(verifies_user=False)
    started = users.register_u2_f(UserServiceRegisterU2FRequest(user_id=user.id, domain=rp_id(target)))
    credential = key.create(started.public_key_credential_creation_options)
    users.verify_u2_f_registration(
        UserServiceVerifyU2FRegistrationRequest(
            user_id=user.id, u2f_id=started.u2f_id, public_key_credential=credential, token_name="Key"
        )
    )

    created = admin.sessions.create_session(
        SessionServiceCreateSessionRequest(
            checks=checks(user), challenges=webauthn_challenge(Verification.USER_VERIFICATION_REQUIREMENT_DISCOURAGED, rp_id(target))
        )
    )
    assertion = key.get(request_options(admin))
    stepped = admin.sessions.set_session(
        SessionServiceSetSessionRequest(session_id=created.session_id, checks=assertion_check(assertion))
    )
    assert stepped.session_token != created.session_token
    factor = factors(admin, created.session_id).web_auth_n
    assert factor.verified_at is not None and not factor.user_verified

    # The challenge was used: the same assertion again is refused.
    expect(
        "invalid_argument",
        admin.sessions.set_session,
        SessionServiceSetSessionRequest(session_id=created.session_id, checks=assertion_check(assertion)),
    )
    users.remove_u2_f(UserServiceRemoveU2FRequest(user_id=user.id, u2f_id=started.u2f_id))


def test_a_passkey_signs_in_without_a_password(admin, make_user, authenticator, target, whoami):
    user = make_user("user-passkey")
    users = admin.zitadel.users
    passkey = authenticator(verifies_user=True)
    started = users.register_passkey(UserServiceRegisterPasskeyRequest(user_id=user.id, domain=rp_id(target)))
    waiting = users.list_passkeys(UserServiceListPasskeysRequest(user_id=user.id)).result
    assert [(p.id, p.state) for p in waiting] == [(started.passkey_id, UserServiceAuthFactorState.AUTH_FACTOR_STATE_NOT_READY)]
    credential = passkey.create(started.public_key_credential_creation_options)
    users.verify_passkey_registration(
        UserServiceVerifyPasskeyRegistrationRequest(
            user_id=user.id, passkey_id=started.passkey_id, public_key_credential=credential, passkey_name="Phone"
        )
    )
    listed = users.list_passkeys(UserServiceListPasskeysRequest(user_id=user.id)).result
    assert [(p.id, p.state, p.name) for p in listed] == [
        (started.passkey_id, UserServiceAuthFactorState.AUTH_FACTOR_STATE_READY, "Phone")
    ]
    # What a login page asks first: which ways of signing in the user has.
    methods = users.list_authentication_method_types(UserServiceListAuthenticationMethodTypesRequest(user_id=user.id))
    assert methods.auth_method_types == [
        MethodType.AUTHENTICATION_METHOD_TYPE_PASSWORD,
        MethodType.AUTHENTICATION_METHOD_TYPE_PASSKEY,
    ]

    created = admin.sessions.create_session(
        SessionServiceCreateSessionRequest(
            checks=checks(user, password=False),
            challenges=webauthn_challenge(Verification.USER_VERIFICATION_REQUIREMENT_REQUIRED, rp_id(target)),
        )
    )
    assertion = passkey.get(request_options(admin))
    signed_in = admin.sessions.set_session(
        SessionServiceSetSessionRequest(session_id=created.session_id, checks=assertion_check(assertion))
    )
    factor = factors(admin, created.session_id).web_auth_n
    assert factor.verified_at is not None and factor.user_verified
    assert whoami(signed_in.session_token) == 200

    users.remove_passkey(UserServiceRemovePasskeyRequest(user_id=user.id, passkey_id=started.passkey_id))
    assert users.list_passkeys(UserServiceListPasskeysRequest(user_id=user.id)).result in (None, [])
