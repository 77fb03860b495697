//! A request's query string, encoded in one pass.
//!
//! progenitor's builders call `reqwest::RequestBuilder::query` once per
//! parameter, and each call reopens the URL's query for editing, even for a
//! parameter left unset; `get_posts` has 22 of them. The transport generator
//! rewrites those calls into one [`QueryString`] that encodes every set
//! parameter into a single buffer, with the same `application/x-www-form-urlencoded`
//! bytes in the same order, and appends it to the URL once.

use serde::Serialize;

/// The query parameters of one request, encoded as they are added (used by
/// the generated transports).
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct QueryString {
    encoded: String,
}

impl QueryString {
    /// An empty query.
    pub fn new() -> QueryString {
        QueryString::default()
    }

    /// Encodes one parameter (progenitor's `QueryParam`, which writes
    /// nothing for an unset value and `name=v&name=w` for a list).
    // The error is the one the generated `build_request` returns.
    #[allow(clippy::result_large_err)]
    pub fn push<T: Serialize>(
        &mut self,
        name: &str,
        param: &T,
    ) -> Result<(), progenitor_client::Error<()>> {
        let mut form = form_urlencoded::Serializer::for_suffix(&mut self.encoded, 0);
        param
            .serialize(serde_urlencoded::Serializer::new(&mut form))
            .map(drop)
            .map_err(|e| {
                progenitor_client::Error::InvalidRequest(format!(
                    "encoding query parameter {name} failed: {e}"
                ))
            })
    }

    /// `url` followed by the query, if any parameter was set.
    pub fn finish(self, mut url: String) -> String {
        if !self.encoded.is_empty() {
            url.reserve(self.encoded.len() + 1);
            url.push('?');
            url.push_str(&self.encoded);
        }
        url
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
        let mut query = QueryString::new();
        for (name, value) in params {
            query
                .push(name, &QueryParam::new(name, value))
                .expect("encodes");
        }
        let list: Vec<String> = list.iter().map(|s| s.to_string()).collect();
        query
            .push("tags", &QueryParam::new("tags", &list))
            .expect("encodes");
        let url = query.finish("http://h/p".to_owned());
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
        let mut query = QueryString::new();
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
