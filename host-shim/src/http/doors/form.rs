//! The one extractor every posted form of the pages goes through: the login
//! step's and self-service's. [`Posted`] reads the path's tenant, the cookies
//! and the form, and hands them to what the form's door [`Accepts`], which
//! checks them (tenant, token, CSRF) into the verified context its handler
//! works with. Nothing reaches a handler before that.

use std::future::Future;
use std::marker::PhantomData;

use axum::extract::{Form, FromRequest, FromRequestParts, Path, Request};
use axum::http::HeaderMap;
use axum_extra::extract::cookie::CookieJar;
use secrecy::SecretString;
use serde::Deserialize;

use crate::http::AppState;
use crate::http::views::base::Base;
use crate::http::views::refusal::{Refusal, bad_form};

/// The fields every form of the pages posts.
#[derive(Deserialize)]
struct Fields {
    /// The form's token (the step's flow, self-service's form token).
    flow: Option<String>,
    /// A typed code, for the forms that take one.
    code: Option<SecretString>,
}

/// A posted form as read, before its door checks it.
pub struct Posting {
    /// The tenant the path names (not looked up yet).
    pub tenant: String,
    /// The request's base.
    pub base: Base,
    /// The request's headers (the browser's languages).
    pub headers: HeaderMap,
    /// The browser's cookies (the response adds to them).
    pub jar: CookieJar,
    /// The form's token field.
    pub token: Option<String>,
}

/// What a door accepts of a posted form: the check that turns a [`Posting`]
/// into the door's verified context, or a refusal page.
pub trait Accepts {
    /// The verified context the door's handlers get.
    type Context: Send;

    /// The refusal for a path without a tenant.
    fn no_tenant() -> Refusal;

    /// Check the posting (tenant, token, CSRF) into the context.
    fn admit(
        state: &AppState,
        posting: Posting,
    ) -> impl Future<Output = Result<Self::Context, Refusal>> + Send;
}

/// A posted form, checked by what `A` accepts: its verified context and the
/// code it carried. A form that is not one of the pages' is refused first
/// (`400`), then whatever `A` refuses.
pub struct Posted<A: Accepts> {
    /// The verified context.
    pub ctx: A::Context,
    /// The typed code, for the forms that take one.
    pub code: Option<SecretString>,
    accepts: PhantomData<fn() -> A>,
}

impl<A: Accepts> FromRequest<AppState> for Posted<A> {
    type Rejection = Refusal;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Refusal> {
        let (mut parts, body) = req.into_parts();
        let Path(tenant) = Path::<String>::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| A::no_tenant())?;
        let Ok(base) = Base::from_request_parts(&mut parts, state).await;
        let jar = CookieJar::from_headers(&parts.headers);
        let headers = parts.headers.clone();
        let Form(fields) = Form::<Fields>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| bad_form())?;
        let posting = Posting {
            tenant,
            base,
            headers,
            jar,
            token: fields.flow,
        };
        Ok(Self {
            ctx: A::admit(state, posting).await?,
            code: fields.code,
            accepts: PhantomData,
        })
    }
}
