use serde::{Deserialize, Serialize};

use crate::factor::{Factor, Method};

/// Authenticator assurance level, as Kratos names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Aal {
    Aal0,
    Aal1,
    Aal2,
    Aal3,
}

impl Aal {
    pub fn as_str(self) -> &'static str {
        match self {
            Aal::Aal0 => "aal0",
            Aal::Aal1 => "aal1",
            Aal::Aal2 => "aal2",
            Aal::Aal3 => "aal3",
        }
    }

    pub fn parse(value: &str) -> Option<Aal> {
        match value {
            "aal0" => Some(Aal::Aal0),
            "aal1" => Some(Aal::Aal1),
            "aal2" => Some(Aal::Aal2),
            "aal3" => Some(Aal::Aal3),
            _ => None,
        }
    }

    /// The session's level from its factors, by Kratos's rule: no factor is AAL0; a first
    /// factor plus a second factor, or an AAL2 federated login alone, is AAL2; anything else
    /// is AAL1. AAL3 is never derived.
    pub fn from_factors(factors: &[Factor]) -> Aal {
        if factors.is_empty() {
            return Aal::Aal0;
        }
        let has_first = factors.iter().any(|f| f.aal == Aal::Aal1);
        let has_second = factors.iter().any(|f| f.aal >= Aal::Aal2);
        let federated_aal2 = factors
            .iter()
            .any(|f| f.aal >= Aal::Aal2 && matches!(f.method, Method::Oidc | Method::Saml));
        if (has_first && has_second) || federated_aal2 {
            Aal::Aal2
        } else {
            Aal::Aal1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Micros;

    fn factor(method: Method) -> Factor {
        Factor::new(method, Micros(0))
    }

    #[test]
    fn no_factor_is_aal0() {
        assert_eq!(Aal::from_factors(&[]), Aal::Aal0);
    }

    #[test]
    fn password_alone_is_aal1() {
        assert_eq!(Aal::from_factors(&[factor(Method::Password)]), Aal::Aal1);
    }

    #[test]
    fn password_and_totp_is_aal2() {
        assert_eq!(
            Aal::from_factors(&[factor(Method::Password), factor(Method::Totp)]),
            Aal::Aal2
        );
    }

    #[test]
    fn a_second_factor_alone_is_only_aal1() {
        assert_eq!(Aal::from_factors(&[factor(Method::Totp)]), Aal::Aal1);
    }

    #[test]
    fn aal2_federated_login_alone_is_aal2() {
        let mut oidc = factor(Method::Oidc);
        oidc.aal = Aal::Aal2;
        assert_eq!(Aal::from_factors(&[oidc]), Aal::Aal2);
    }
}
