//! A request's query string, encoded in one pass.
//!
//! progenitor's builders call `reqwest::RequestBuilder::query` once per
//! parameter, and each call reopens the URL's query for editing, even for a
//! parameter left unset; `get_posts` has 22 of them. The transport generator
//! rewrites those calls into one [`QueryString`] that encodes every set
//! parameter onto the end of the URL, with the same
//! `application/x-www-form-urlencoded` bytes in the same order.

use serde::Serialize;

/// The query parameters of one request, encoded as they are added (used by
/// the generated transports), straight onto the end of the URL: the URL
/// grows once, and no second buffer is made and copied.
#[doc(hidden)]
#[derive(Debug)]
pub struct QueryString {
    url: String,
    /// Where the query starts, after the `?`.
    start: usize,
}

impl QueryString {
    /// Starts the query of `url` (which has none yet).
    pub fn new(mut url: String) -> QueryString {
        url.push('?');
        let start = url.len();
        QueryString { url, start }
    }

    /// Adds one parameter (nothing if unset, one pair per item of a list),
    /// encoded as `reqwest::RequestBuilder::query` would.
    #[allow(clippy::result_large_err)]
    pub fn push<T: Serialize>(
        &mut self,
        name: &str,
        param: &T,
    ) -> Result<(), progenitor_client::Error<()>> {
        let mut form = form_urlencoded::Serializer::for_suffix(&mut self.url, self.start);
        param
            .serialize(serde_urlencoded::Serializer::new(&mut form))
            .map(drop)
            .map_err(|e| {
                progenitor_client::Error::InvalidRequest(format!(
                    "encoding query parameter {name} failed: {e}"
                ))
            })
    }

    /// The URL with its query; without the `?` when no parameter was set.
    pub fn finish(mut self) -> String {
        if self.url.len() == self.start {
            self.url.pop();
        }
        self.url
    }
}

#[cfg(test)]
mod tests {
    use super::QueryString;
    use progenitor_client::QueryParam;

    /// What reqwest's per-parameter `query` calls put in the URL.
    fn with_reqwest(params: &[(&str, Option<&str>)], list: &[&str]) -> String {
        let client = reqwest::Client::new();
        let mut builder = client.get("http://h/p");
        for (name, value) in params {
            builder = builder.query(&QueryParam::new(name, value));
        }
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        builder = builder.query(&QueryParam::new("tags", &list));
        builder.build().expect("request").url().to_string()
    }

    fn with_query_string(params: &[(&str, Option<&str>)], list: &[&str]) -> String {
        let mut query = QueryString::new("http://h/p".to_owned());
        for (name, value) in params {
            query
                .push(name, &QueryParam::new(name, value))
                .expect("encodes");
        }
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        query
            .push("tags", &QueryParam::new("tags", &list))
            .expect("encodes");
        let url = query.finish();
        reqwest::Client::new()
            .get(url)
            .build()
            .expect("request")
            .url()
            .to_string()
    }

    #[test]
    fn the_same_url_as_one_reqwest_query_call_per_parameter() {
        type Case<'a> = (&'a [(&'a str, Option<&'a str>)], &'a [&'a str]);
        let cases: &[Case] = &[
            (&[], &[]),
            (&[("a", None), ("b", None)], &[]),
            (
                &[("limit", Some("20")), ("q", None), ("sort", Some("newest"))],
                &[],
            ),
            (
                &[("q", Some("a b&c=d/é?#+%")), ("x", Some(""))],
                &["one", "two three"],
            ),
            (&[("a", None)], &["x"]),
        ];
        for (params, list) in cases {
            assert_eq!(
                with_query_string(params, list),
                with_reqwest(params, list),
                "{params:?} {list:?}"
            );
        }
    }

    #[test]
    fn an_unencodable_value_names_the_parameter() {
        #[derive(serde::Serialize)]
        struct Nested {
            inner: Vec<Vec<u8>>,
        }
        let mut query = QueryString::new("http://h/p".to_owned());
        let err = query
            .push(
                "filter",
                &QueryParam::new(
                    "filter",
                    &Nested {
                        inner: vec![vec![1]],
                    },
                ),
            )
            .expect_err("a nested list is not a query value");
        assert!(err.to_string().contains("query parameter filter"), "{err}");
    }
}
