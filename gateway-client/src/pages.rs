//! Paged listings (v2): `page`/`pageSize` with an announced `total`, read
//! as a stream of pages.

use futures::{Stream, TryStreamExt, stream};
use reqwest::Method;
use serde_json::{Map, Value};

use crate::transport::Request;
use crate::users::{objects_of, take_list};
use crate::{Client, Error};

struct Cursor {
    page: u32,
    received: u64,
    done: bool,
    first_of_previous: Option<Map<String, Value>>,
}

impl Client {
    /// The pages of a listing, one request each, as a stream.
    pub(crate) fn pages<'a>(
        &'a self,
        segments: Vec<&'a str>,
        key: &'static str,
    ) -> impl Stream<Item = Result<Vec<Map<String, Value>>, Error>> + 'a {
        let start = Cursor {
            page: 1,
            received: 0,
            done: false,
            first_of_previous: None,
        };
        stream::try_unfold(start, move |mut cur| {
            let segments = segments.clone();
            async move {
                if cur.done {
                    return Ok(None);
                }
                let size = self.inner.page_size;
                let req = Request::new(Method::GET, segments)
                    .query("page", cur.page.to_string())
                    .query("pageSize", size.to_string());
                let reply = self.inner.execute(req).await?;
                let mut body = reply.json()?;
                let items = take_list(&mut body, key)
                    .ok_or_else(|| reply.decode_error(format!("no `{key}` list")))?;
                let items = objects_of(items).map_err(|r| reply.decode_error(r))?;
                if cur.page > 1
                    && !items.is_empty()
                    && items.first() == cur.first_of_previous.as_ref()
                {
                    return Err(reply.decode_error("the server repeats the same page".into()));
                }
                cur.received += items.len() as u64;
                let total = body.get("total").and_then(Value::as_u64);
                cur.done = match total {
                    Some(total) if cur.received >= total => true,
                    Some(total) if items.is_empty() => {
                        return Err(Error::Truncated {
                            expected: total,
                            received: cur.received,
                        });
                    }
                    Some(_) => false,
                    None => items.len() < size as usize,
                };
                cur.first_of_previous = items.first().cloned();
                cur.page += 1;
                Ok(Some((items, cur)))
            }
        })
    }

    /// Every item of a paged listing.
    pub(crate) async fn collect_pages(
        &self,
        segments: Vec<&str>,
        key: &'static str,
    ) -> Result<Vec<Map<String, Value>>, Error> {
        let pages: Vec<Vec<_>> = self.pages(segments, key).try_collect().await?;
        Ok(pages.into_iter().flatten().collect())
    }
}
