//! Function + source → the event source mappings in scope (every page, short names, ARNs, UUIDs).

use super::{Backoff, LambdaClient, LambdaError, Mapping, with_retries};
use crate::command::{FunctionRef, SourceRef};

/// What a function and optional source resolve to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The mappings in scope, in AWS's order.
    Found(Vec<Mapping>),
    /// The function has no event source mappings at all (or does not exist in this region).
    NoMappings,
    /// The source matched none of the function's mappings; these are the ones it has.
    NoMatch { available: Vec<Mapping> },
}

/// Every mapping of `function` (optionally only those reading `source_arn`), following `NextMarker` through every page.
pub async fn list_all(
    client: &LambdaClient,
    function: &str,
    source_arn: Option<&str>,
    retry: &Backoff,
) -> Result<Vec<Mapping>, LambdaError> {
    let mut all = Vec::new();
    let mut marker = None;
    loop {
        let (page, next) = with_retries(retry, || {
            client.list_page(function, source_arn, marker.clone())
        })
        .await?;
        all.extend(page);
        match next {
            // A marker that repeats would loop forever; stop on it.
            Some(next) if Some(&next) != marker.as_ref() => marker = Some(next),
            _ => return Ok(all),
        }
    }
}

/// Resolves a function and an optional source to the mappings an operation applies to.
pub async fn resolve(
    client: &LambdaClient,
    function: &FunctionRef,
    source: Option<&SourceRef>,
    retry: &Backoff,
) -> Result<Resolution, LambdaError> {
    let function = function.as_str();
    if let Some(SourceRef::Arn(arn)) = source {
        let exact = list_all(client, function, Some(arn), retry).await?;
        // Stand-ins may ignore the filter: keep only what really matches.
        let exact: Vec<Mapping> = exact
            .into_iter()
            .filter(|m| m.source_arn.as_deref() == Some(arn.as_str()))
            .collect();
        if !exact.is_empty() {
            return Ok(Resolution::Found(exact));
        }
    }
    let all = list_all(client, function, None, retry).await?;
    Ok(choose(all, source))
}

/// Like [`resolve`], from a listing at most `max_age` old that concurrent askers share
/// (`/lambda status`: thousands of statuses of one function cost AWS one call).
pub async fn resolve_shared(
    client: &LambdaClient,
    function: &FunctionRef,
    source: Option<&SourceRef>,
    retry: &Backoff,
    max_age: std::time::Duration,
) -> Result<Resolution, LambdaError> {
    let listing = client.list_shared(function.as_str(), max_age, retry).await;
    from_listing(&listing, source)
}

/// What a shared listing (or its error) resolves `source` to.
pub fn from_listing(
    listing: &super::Listing,
    source: Option<&SourceRef>,
) -> Result<Resolution, LambdaError> {
    match listing.as_ref() {
        Ok(all) => Ok(choose(all.clone(), source)),
        Err(err) => Err(err.clone()),
    }
}

/// The mappings of a full listing that `source` selects.
pub fn choose(all: Vec<Mapping>, source: Option<&SourceRef>) -> Resolution {
    if all.is_empty() {
        return Resolution::NoMappings;
    }
    let Some(source) = source else {
        return Resolution::Found(all);
    };
    let matched: Vec<Mapping> = all
        .iter()
        .filter(|m| match source {
            SourceRef::Arn(arn) => m.source_arn.as_deref() == Some(arn.as_str()),
            SourceRef::Uuid(uuid) => m.uuid.as_str().eq_ignore_ascii_case(uuid),
            SourceRef::Name(name) => m.is_named(name),
        })
        .cloned()
        .collect();
    if matched.is_empty() {
        Resolution::NoMatch { available: all }
    } else {
        Resolution::Found(matched)
    }
}
