//! Just enough of Kubernetes' protobuf encoding to read the review requests kubectl sends as
//! `application/vnd.kubernetes.protobuf` (the `k8s\0` envelope around a `runtime.Unknown`).
//! Responses are always JSON, which kubectl accepts too. Field numbers follow k8s.io/api's generated.proto.

use serde_json::{Map, Value, json};

/// A decoded protobuf field: a varint or fixed-width number (value unused), or a length-delimited byte string.
enum Wire<'a> {
    Varint,
    Bytes(&'a [u8]),
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn fields(buf: &[u8]) -> Option<Vec<(u64, Wire<'_>)>> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let key = varint(buf, &mut pos)?;
        let (field, wire) = (key >> 3, key & 7);
        let value = match wire {
            0 => {
                varint(buf, &mut pos)?;
                Wire::Varint
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let bytes = buf.get(pos..pos.checked_add(len)?)?;
                pos += len;
                Wire::Bytes(bytes)
            }
            1 => {
                pos += 8;
                Wire::Varint
            }
            5 => {
                pos += 4;
                Wire::Varint
            }
            _ => return None,
        };
        out.push((field, value));
    }
    Some(out)
}

fn field(buf: &[u8], number: u64) -> Option<&[u8]> {
    fields(buf)?.into_iter().find_map(|(f, w)| match w {
        Wire::Bytes(b) if f == number => Some(b),
        _ => None,
    })
}

fn strings(buf: &[u8], names: &[(u64, &str)]) -> Map<String, Value> {
    let mut map = Map::new();
    for (f, w) in fields(buf).unwrap_or_default() {
        if let (Some((_, name)), Wire::Bytes(b)) = (names.iter().find(|(n, _)| *n == f), w) {
            map.insert((*name).to_string(), String::from_utf8_lossy(b).into_owned().into());
        }
    }
    map
}

/// The object inside a `k8s\0` envelope (`runtime.Unknown.raw`).
fn unwrap(body: &[u8]) -> Option<&[u8]> {
    field(body.strip_prefix(b"k8s\0")?, 2)
}

const RESOURCE_ATTRIBUTES: [(u64, &str); 7] = [
    (1, "namespace"),
    (2, "verb"),
    (3, "group"),
    (4, "version"),
    (5, "resource"),
    (6, "subresource"),
    (7, "name"),
];
const NON_RESOURCE_ATTRIBUTES: [(u64, &str); 2] = [(1, "path"), (2, "verb")];

/// A (Self)SubjectAccessReview or TokenReview in protobuf, as the JSON `{"spec": ...}` it stands for.
pub fn review_to_json(body: &[u8]) -> Option<Value> {
    let object = unwrap(body)?;
    let spec = field(object, 2).unwrap_or_default();
    let mut out = Map::new();
    let mut groups = Vec::new();
    for (f, w) in fields(spec)? {
        let Wire::Bytes(b) = w else { continue };
        let text = || Value::from(String::from_utf8_lossy(b).into_owned());
        match f {
            1 => {
                // ResourceAttributes in access reviews; the token in a TokenReview.
                let attrs = strings(b, &RESOURCE_ATTRIBUTES);
                out.insert("resourceAttributes".into(), Value::Object(attrs));
                out.insert("token".into(), text());
                // SelfSubjectRulesReviewSpec.namespace is field 1 too.
                out.insert("namespace".into(), text());
            }
            2 => {
                out.insert(
                    "nonResourceAttributes".into(),
                    Value::Object(strings(b, &NON_RESOURCE_ATTRIBUTES)),
                );
            }
            3 => {
                out.insert("user".into(), text());
            }
            4 => groups.push(text()),
            6 => {
                out.insert("uid".into(), text());
            }
            _ => {}
        }
    }
    if !groups.is_empty() {
        out.insert("groups".into(), Value::Array(groups));
    }
    Some(json!({ "spec": out }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kubectl_auth_can_i_request() {
        // Captured from `kubectl auth can-i get nodes --subresource=proxy -v=9` (kubectl v1.33).
        let body: [u8; 128] = [
            0x6b, 0x38, 0x73, 0x00, 0x0a, 0x32, 0x0a, 0x17, 0x61, 0x75, 0x74, 0x68, 0x6f, 0x72, 0x69, 0x7a,
            0x61, 0x74, 0x69, 0x6f, 0x6e, 0x2e, 0x6b, 0x38, 0x73, 0x2e, 0x69, 0x6f, 0x2f, 0x76, 0x31, 0x12,
            0x17, 0x53, 0x65, 0x6c, 0x66, 0x53, 0x75, 0x62, 0x6a, 0x65, 0x63, 0x74, 0x41, 0x63, 0x63, 0x65,
            0x73, 0x73, 0x52, 0x65, 0x76, 0x69, 0x65, 0x77, 0x12, 0x42, 0x0a, 0x10, 0x0a, 0x00, 0x12, 0x00,
            0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42, 0x00, 0x12, 0x24, 0x0a, 0x22,
            0x0a, 0x07, 0x64, 0x65, 0x66, 0x61, 0x75, 0x6c, 0x74, 0x12, 0x03, 0x67, 0x65, 0x74, 0x1a, 0x00,
            0x22, 0x00, 0x2a, 0x05, 0x6e, 0x6f, 0x64, 0x65, 0x73, 0x32, 0x05, 0x70, 0x72, 0x6f, 0x78, 0x79,
            0x3a, 0x00, 0x1a, 0x08, 0x08, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x20, 0x00, 0x1a, 0x00, 0x22, 0x00,
        ];
        let value = review_to_json(&body).unwrap();
        let attrs = &value["spec"]["resourceAttributes"];
        assert_eq!(attrs["verb"], "get");
        assert_eq!(attrs["resource"], "nodes");
        assert_eq!(attrs["subresource"], "proxy");
        assert_eq!(attrs["namespace"], "default");
    }
}
