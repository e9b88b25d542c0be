//! The `claims` request parameter (OpenID Connect Core §5.5) as far as a
//! step-up answer depends on it: which `acr` to answer with, whether the one
//! `amr` this client answers with is acceptable, and a requested `sub` value.
//!
//! An essential `acr` (or `amr`) request none of whose values this client can
//! truthfully answer is a failed authentication (§5.5.1.1): the caller answers
//! `access_denied` rather than claim something a backup code did not prove.
//! Voluntary requests only steer the choice. Other claims are ignored.

use serde_json::Value;

use crate::config::StepUpClient;

/// Longest `claims` parameter read, bytes.
pub const MAX_CLAIMS_BYTES: usize = 4096;

/// Why the request's claims cannot be answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ClaimsError {
    /// The parameter is not the JSON object the specification describes
    /// (answered `invalid_request`).
    #[error("the claims parameter is malformed")]
    Malformed,
    /// An essential request this client cannot meet (answered `access_denied`).
    #[error("{0}")]
    Unmet(&'static str),
}

/// One requested claim: `null` or `{"essential", "value", "values"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimRequest {
    /// `essential: true`.
    pub essential: bool,
    /// `value` and `values`, in order.
    pub values: Vec<String>,
}

/// What the `claims` parameter asks of the ID token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requested {
    /// The `acr` request.
    pub acr: Option<ClaimRequest>,
    /// The `amr` request.
    pub amr: Option<ClaimRequest>,
    /// The `sub` request.
    pub sub: Option<ClaimRequest>,
}

/// What the answer will carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The one `acr`.
    pub acr: String,
    /// The one `amr` value.
    pub amr: String,
}

fn claim(v: &Value) -> Result<ClaimRequest, ClaimsError> {
    let obj = match v {
        Value::Null => return Ok(ClaimRequest::default()),
        Value::Object(o) => o,
        _ => return Err(ClaimsError::Malformed),
    };
    let essential = match obj.get("essential") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ClaimsError::Malformed),
    };
    let mut values = Vec::new();
    match obj.get("value") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => values.push(s.clone()),
        Some(_) => return Err(ClaimsError::Malformed),
    }
    match obj.get("values") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for item in list {
                values.push(item.as_str().ok_or(ClaimsError::Malformed)?.to_owned());
            }
        }
        Some(_) => return Err(ClaimsError::Malformed),
    }
    Ok(ClaimRequest { essential, values })
}

/// Parse the `claims` parameter (absent: nothing requested).
pub fn parse(claims: Option<&str>) -> Result<Requested, ClaimsError> {
    let Some(text) = claims.filter(|c| !c.trim().is_empty()) else {
        return Ok(Requested::default());
    };
    if text.len() > MAX_CLAIMS_BYTES {
        return Err(ClaimsError::Malformed);
    }
    let value: Value = serde_json::from_str(text).map_err(|_| ClaimsError::Malformed)?;
    let Value::Object(top) = value else {
        return Err(ClaimsError::Malformed);
    };
    let id_token = match top.get("id_token") {
        None | Some(Value::Null) => return Ok(Requested::default()),
        Some(Value::Object(o)) => o,
        Some(_) => return Err(ClaimsError::Malformed),
    };
    let get = |name: &str| id_token.get(name).map(claim).transpose();
    Ok(Requested {
        acr: get("acr")?,
        amr: get("amr")?,
        sub: get("sub")?,
    })
}

/// The `acr` and `amr` for `client`, given the request's claims and its
/// (voluntary) `acr_values` parameter, for a hint whose `sub` is `hint_sub`.
pub fn choose(
    req: &Requested,
    acr_values: Option<&str>,
    client: &StepUpClient,
    hint_sub: &str,
) -> Result<Answer, ClaimsError> {
    let ours = client.acr_values();
    let supported = |v: &&String| ours.contains(v);
    let mut acr = None;
    if let Some(r) = req.acr.as_ref().filter(|r| !r.values.is_empty()) {
        acr = r.values.iter().find(supported).cloned();
        if acr.is_none() && r.essential {
            return Err(ClaimsError::Unmet(
                "none of the requested acr values can be met by a backup code",
            ));
        }
    }
    if acr.is_none()
        && let Some(list) = acr_values
    {
        acr = list
            .split(' ')
            .find(|v| ours.iter().any(|o| o == v))
            .map(str::to_owned);
    }
    let acr = acr
        .or_else(|| ours.first().cloned())
        .ok_or(ClaimsError::Unmet("no acr is configured"))?;
    let amr = client.amr().to_owned();
    if let Some(r) = req.amr.as_ref()
        && r.essential
        && !r.values.is_empty()
        && !r.values.contains(&amr)
    {
        return Err(ClaimsError::Unmet(
            "none of the requested amr values can be met by a backup code",
        ));
    }
    if let Some(r) = &req.sub
        && !r.values.is_empty()
        && !r.values.iter().any(|v| v == hint_sub)
    {
        return Err(ClaimsError::Unmet(
            "the requested sub is not the user of the id_token_hint",
        ));
    }
    Ok(Answer { acr, amr })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Entra's documented `claims` parameter.
    const ENTRA: &str = r#"{"id_token":{"acr":{"essential":true,"values":["possessionorinherence"]},"amr":{"essential":true,"values":["face","fido","fpt","hwk","iris","otp","pop","retina","sc","sms","swk","tel","vbm"]}}}"#;

    fn client(acr: &[&str], amr: Option<&str>) -> StepUpClient {
        StepUpClient {
            acr_values: acr.iter().map(|s| (*s).to_owned()).collect(),
            amr: amr.map(str::to_owned),
            ..StepUpClient::default()
        }
    }

    #[test]
    fn entra_gets_its_requested_acr_and_otp() {
        let req = parse(Some(ENTRA)).unwrap();
        let a = choose(&req, None, &client(&[], None), "s").unwrap();
        assert_eq!(
            (a.acr.as_str(), a.amr.as_str()),
            ("possessionorinherence", "otp")
        );
        // The first requested value that the client supports, in request order.
        let req = parse(Some(
            r#"{"id_token":{"acr":{"essential":true,"values":["inherence","possession","knowledgeorpossession"]}}}"#,
        ))
        .unwrap();
        assert_eq!(
            choose(&req, None, &client(&[], None), "s").unwrap().acr,
            "possession"
        );
    }

    #[test]
    fn what_a_backup_code_cannot_prove_is_refused_when_essential() {
        let no_possession = r#"{"id_token":{"acr":{"essential":true,"values":["knowledgeorinherence","inherence"]}}}"#;
        let req = parse(Some(no_possession)).unwrap();
        assert!(matches!(
            choose(&req, None, &client(&[], None), "s"),
            Err(ClaimsError::Unmet(_))
        ));
        let no_otp = r#"{"id_token":{"amr":{"essential":true,"values":["face","fido"]}}}"#;
        let req = parse(Some(no_otp)).unwrap();
        assert!(matches!(
            choose(&req, None, &client(&[], None), "s"),
            Err(ClaimsError::Unmet(_))
        ));
        let other_sub = r#"{"id_token":{"sub":{"value":"mallory"}}}"#;
        let req = parse(Some(other_sub)).unwrap();
        assert!(choose(&req, None, &client(&[], None), "alice").is_err());
        assert!(choose(&req, None, &client(&[], None), "mallory").is_ok());
        // Voluntary requests only steer.
        let voluntary = r#"{"id_token":{"acr":{"values":["inherence"]},"amr":null}}"#;
        let req = parse(Some(voluntary)).unwrap();
        let a = choose(&req, Some("x possession"), &client(&[], None), "s").unwrap();
        assert_eq!(a.acr, "possession");
    }

    #[test]
    fn another_profile_answers_its_own_values() {
        let c = client(&["https://refeds.org/profile/mfa"], Some("mfa"));
        let a = choose(&Requested::default(), None, &c, "s").unwrap();
        assert_eq!(
            (a.acr.as_str(), a.amr.as_str()),
            ("https://refeds.org/profile/mfa", "mfa")
        );
        assert!(choose(&parse(Some(ENTRA)).unwrap(), None, &c, "s").is_err());
    }

    #[test]
    fn malformed_claims_are_refused() {
        for bad in [
            "not json",
            "[]",
            r#"{"id_token":[]}"#,
            r#"{"id_token":{"acr":"possession"}}"#,
            r#"{"id_token":{"acr":{"essential":"yes"}}}"#,
            r#"{"id_token":{"acr":{"values":"possession"}}}"#,
            r#"{"id_token":{"amr":{"values":[1]}}}"#,
        ] {
            assert_eq!(parse(Some(bad)), Err(ClaimsError::Malformed), "{bad}");
        }
        assert_eq!(
            parse(Some(&" ".repeat(MAX_CLAIMS_BYTES + 1))),
            Ok(Requested::default())
        );
        let long = format!(
            r#"{{"id_token":{{"x":"{}"}}}}"#,
            "a".repeat(MAX_CLAIMS_BYTES)
        );
        assert_eq!(parse(Some(&long)), Err(ClaimsError::Malformed));
    }
}
