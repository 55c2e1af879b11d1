//! `Deserialize` for [`Subscription`] with a document-size limit.
//!
//! A `Deserialize` impl never sees the document's length, so
//! [`Subscription::from_json`]'s check of [`MAX_JSON_LEN`] cannot be made
//! there. Instead every value is read through a budget of [`MAX_JSON_LEN`]
//! units: each string and key costs its length plus 2 (its quotes), each
//! number 8, each `true`, `false` or `null` 4, each array or object 2, and
//! nesting deeper than [`MAX_DEPTH`] is refused. Whatever the deserializer
//! (`serde_json`, a config format, a message body), a subscription that
//! costs more is an error before it is converted, and what is kept in
//! memory is bounded by the budget rather than by the input. (Strings are
//! checked as they arrive: a deserializer that buffers a whole string
//! before handing it over still buffers it; `serde_json::from_str` and
//! `from_slice` hand out borrowed strings.)

use core::cell::Cell;
use core::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{MAX_JSON_LEN, Subscription, SubscriptionJson};

/// The deepest nesting read (a subscription needs 2).
pub(super) const MAX_DEPTH: usize = 16;

struct Budget<'a> {
    left: &'a Cell<usize>,
    depth: usize,
}

impl Budget<'_> {
    fn charge<E: de::Error>(&self, cost: usize) -> Result<(), E> {
        match self.left.get().checked_sub(cost) {
            Some(left) => {
                self.left.set(left);
                Ok(())
            }
            None => Err(E::custom(format_args!(
                "subscription is over the limit of {MAX_JSON_LEN} octets"
            ))),
        }
    }

    fn deeper<E: de::Error>(&self) -> Result<Budget<'_>, E> {
        if self.depth >= MAX_DEPTH {
            return Err(E::custom("subscription is nested too deeply"));
        }
        Ok(Budget {
            left: self.left,
            depth: self.depth + 1,
        })
    }
}

impl<'de> DeserializeSeed<'de> for Budget<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budget<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a push subscription")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.charge(4)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.charge(8)?;
        Ok(Value::from(v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.charge(8)?;
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.charge(8)?;
        Ok(Value::from(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.charge(v.len().saturating_add(2))?;
        Ok(Value::from(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.charge(4)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.charge(2)?;
        let inner = self.deeper()?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Budget {
            left: inner.left,
            depth: inner.depth,
        })? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.charge(2)?;
        let inner = self.deeper()?;
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(Budget {
            left: inner.left,
            depth: inner.depth,
        })? {
            let Value::String(key) = key else {
                return Err(de::Error::custom(
                    "subscription object keys must be strings",
                ));
            };
            if out.contains_key(&key) {
                // As `from_json` (serde's derive) refuses them.
                return Err(de::Error::custom("subscription has a duplicate member"));
            }
            let value = map.next_value_seed(Budget {
                left: inner.left,
                depth: inner.depth,
            })?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

impl<'de> serde::Deserialize<'de> for Subscription {
    /// Reads the browser's JSON form through a budget of
    /// [`MAX_JSON_LEN`] (string lengths plus 2, 8 per number, 4 per
    /// literal, 2 per array or object, at most 16 levels deep), then
    /// validates it as [`Subscription::from_json`] does.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let left = Cell::new(MAX_JSON_LEN);
        let value = Budget {
            left: &left,
            depth: 0,
        }
        .deserialize(d)?;
        let wire: SubscriptionJson = serde_json::from_value(value).map_err(de::Error::custom)?;
        Self::try_from(wire).map_err(de::Error::custom)
    }
}
