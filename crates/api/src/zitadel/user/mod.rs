//! The authenticator part of the ZITADEL User Service v2: enrolment of passkeys, security keys
//! (U2F), TOTP and one-time codes by SMS and email, on the RPC paths
//! (`/zitadel.user.v2.UserService/<Rpc>`, every transport of `zitadel::transport`) and on
//! grpc-gateway's REST paths (`/v2/users/{userId}/…`). The caller is an API key with
//! `identity.write`, or the user itself with one of its session tokens.

mod routes;
mod rpc;

use lanyard_proto::zitadel::user::v2 as user;
use lanyard_proto::Message;

use super::codec::{decode_message, from_value, json_object, list_json, to_json};
use super::error::ZitadelError;
use super::transport::{Answer, Service};
use crate::AppState;

pub(crate) use routes::routes;

/// Declares the service's RPCs once: their names, request and response messages, and the
/// enums and codec functions that follow from them.
macro_rules! user_rpcs {
    ($($rpc:ident($request:ident) -> $response:ident),* $(,)?) => {
        /// An RPC of the served part of the User Service.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Rpc {
            $($rpc),*
        }

        /// A decoded request.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Request {
            $($rpc(user::$request)),*
        }

        /// An RPC's answer.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Reply {
            $($rpc(user::$response)),*
        }

        impl Rpc {
            /// Every RPC, in the order of the proto's service definition.
            pub const ALL: &'static [Rpc] = &[$(Rpc::$rpc),*];

            pub fn name(self) -> &'static str {
                match self {
                    $(Rpc::$rpc => stringify!($rpc)),*
                }
            }

            pub fn from_name(name: &str) -> Option<Rpc> {
                Rpc::ALL.iter().copied().find(|rpc| rpc.name() == name)
            }
        }

        impl Request {
            fn from_json(rpc: Rpc, body: &[u8]) -> Result<Request, ZitadelError> {
                let value = json_object(body)?;
                Ok(match rpc {
                    $(Rpc::$rpc => Request::$rpc(from_value(value)?)),*
                })
            }

            fn from_proto(rpc: Rpc, bytes: &[u8]) -> Result<Request, ZitadelError> {
                Ok(match rpc {
                    $(Rpc::$rpc => Request::$rpc(decode_message(bytes, concat!("zitadel.user.v2.", stringify!($request)))?)),*
                })
            }

            /// The user the request is about.
            pub fn user_id(&self) -> &str {
                match self {
                    $(Request::$rpc(request) => &request.user_id),*
                }
            }
        }

        impl Answer for Reply {
            fn to_proto(&self) -> Vec<u8> {
                match self {
                    $(Reply::$rpc(message) => message.encode_to_vec()),*
                }
            }

            fn to_json(&self) -> Result<Vec<u8>, ZitadelError> {
                if let Reply::ListPasskeys(list) = self {
                    return list_json(list, "result", !list.result.is_empty());
                }
                if let Reply::ListAuthenticationMethodTypes(list) = self {
                    return list_json(list, "authMethodTypes", !list.auth_method_types.is_empty());
                }
                match self {
                    $(Reply::$rpc(message) => to_json(message)),*
                }
            }
        }
    };
}

user_rpcs!(
    RegisterPasskey(RegisterPasskeyRequest) -> RegisterPasskeyResponse,
    VerifyPasskeyRegistration(VerifyPasskeyRegistrationRequest) -> VerifyPasskeyRegistrationResponse,
    ListPasskeys(ListPasskeysRequest) -> ListPasskeysResponse,
    RemovePasskey(RemovePasskeyRequest) -> RemovePasskeyResponse,
    RegisterU2F(RegisterU2fRequest) -> RegisterU2fResponse,
    VerifyU2FRegistration(VerifyU2fRegistrationRequest) -> VerifyU2fRegistrationResponse,
    RemoveU2F(RemoveU2fRequest) -> RemoveU2fResponse,
    RegisterTOTP(RegisterTotpRequest) -> RegisterTotpResponse,
    VerifyTOTPRegistration(VerifyTotpRegistrationRequest) -> VerifyTotpRegistrationResponse,
    RemoveTOTP(RemoveTotpRequest) -> RemoveTotpResponse,
    AddOTPSMS(AddOtpsmsRequest) -> AddOtpsmsResponse,
    RemoveOTPSMS(RemoveOtpsmsRequest) -> RemoveOtpsmsResponse,
    AddOTPEmail(AddOtpEmailRequest) -> AddOtpEmailResponse,
    RemoveOTPEmail(RemoveOtpEmailRequest) -> RemoveOtpEmailResponse,
    ListAuthenticationMethodTypes(ListAuthenticationMethodTypesRequest) -> ListAuthenticationMethodTypesResponse,
);

/// The User Service v2 on the RPC paths.
pub(crate) struct UserService;

impl Service for UserService {
    type Rpc = Rpc;
    type Request = Request;
    type Reply = Reply;

    const PATHS: &'static [&'static str] = &["/zitadel.user.v2.UserService/"];

    fn rpc(name: &str) -> Option<Rpc> {
        Rpc::from_name(name)
    }

    fn from_json(rpc: Rpc, body: &[u8]) -> Result<Request, ZitadelError> {
        Request::from_json(rpc, body)
    }

    fn from_proto(rpc: Rpc, body: &[u8]) -> Result<Request, ZitadelError> {
        Request::from_proto(rpc, body)
    }

    async fn call(
        state: &AppState,
        caller: &lanyard_service::Principal,
        client_ip: Option<std::net::IpAddr>,
        request: Request,
    ) -> Result<Reply, ZitadelError> {
        rpc::call(state, caller, client_ip, request).await
    }
}

/// Checks a decoded request as the RPC would, without running it (for the fuzz targets).
pub fn validate(request: &Request) -> Result<(), ZitadelError> {
    rpc::user_id(request.user_id()).map(drop)
}
