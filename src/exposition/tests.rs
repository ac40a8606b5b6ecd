//! Whole-parser tests: real kubelet payloads, the malformed-input catalogue, chunking and
//! write∘parse properties, and arbitrary bytes.

use proptest::prelude::*;

use super::*;

const SEED: &str = include_str!("../../tests/fixtures/seed-node1.prom");

/// `(file, text, families as SOURCES.md counts them, (histograms, summaries, counters, gauges))`.
fn fixtures() -> Vec<(&'static str, &'static str, usize, Option<[usize; 4]>)> {
    vec![
        (
            "kubelet-1.10.0-metrics.prom",
            include_str!("../../tests/fixtures/real/kubelet-1.10.0-metrics.prom"),
            84,
            Some([4, 20, 23, 37]),
        ),
        (
            "kubelet-1.14.10-metrics.prom",
            include_str!("../../tests/fixtures/real/kubelet-1.14.10-metrics.prom"),
            95,
            Some([16, 13, 23, 43]),
        ),
        (
            "kubelet-1.21.2-metrics.prom",
            include_str!("../../tests/fixtures/real/kubelet-1.21.2-metrics.prom"),
            93,
            Some([21, 1, 26, 45]),
        ),
        (
            "kubelet-1.16.15-cadvisor.prom",
            include_str!("../../tests/fixtures/real/kubelet-1.16.15-cadvisor.prom"),
            57,
            None,
        ),
        (
            "kubelet-1.27.5-cadvisor.prom",
            include_str!("../../tests/fixtures/real/kubelet-1.27.5-cadvisor.prom"),
            67,
            None,
        ),
        (
            "kubelet-1.35.0-cadvisor.prom",
            include_str!("../../tests/fixtures/real/kubelet-1.35.0-cadvisor.prom"),
            78,
            None,
        ),
        (
            "kubelet-gke-probes.prom",
            include_str!("../../tests/fixtures/real/kubelet-gke-probes.prom"),
            2,
            None,
        ),
        ("kubelet-slis.prom", include_str!("../../tests/fixtures/real/kubelet-slis.prom"), 2, None),
    ]
}

/// Sample lines counted independently of the parser: not blank and not starting with `#`.
fn count_sample_lines(text: &str) -> usize {
    text.lines().filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#')).count()
}

fn sample_count(families: &[Family]) -> usize {
    families.iter().map(|f| f.samples.len()).sum()
}

/// Equality that treats NaN as equal to NaN (payloads carry NaN values).
fn same(a: &[Family], b: &[Family]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.name == y.name
                && x.help == y.help
                && x.kind == y.kind
                && x.unit == y.unit
                && x.samples.len() == y.samples.len()
                && x.samples.iter().zip(&y.samples).all(|(s, t)| {
                    s.name == t.name
                        && s.labels == t.labels
                        && s.timestamp_ms == t.timestamp_ms
                        && (s.value.to_bits() == t.value.to_bits() || (s.value.is_nan() && t.value.is_nan()))
                })
        })
}

/// Feeds `bytes` in chunks whose sizes come from a small deterministic generator.
fn parse_in_chunks(bytes: &[u8], seed: u64, max_chunk: usize, selector: &Selector) -> Parsed {
    let mut parser = StreamParser::new(selector.clone());
    let mut state = seed | 1;
    let mut rest = bytes;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = (state as usize % max_chunk + 1).min(rest.len());
        parser.feed(&rest[..n]);
        rest = &rest[n..];
    }
    assert_eq!(parser.bytes_seen(), bytes.len() as u64);
    assert_eq!(parser.lines(), memchr::memchr_iter(b'\n', bytes).count(), "lines() counts newlines");
    parser.finish()
}

#[test]
fn every_real_fixture_parses_without_errors() {
    for (file, text, families, kinds) in fixtures() {
        let parsed = parse_bytes(text.as_bytes(), &Selector::all());
        assert_eq!(parsed.errors, vec![], "{file}");
        assert_eq!(parsed.families.len(), families, "{file}: families");
        assert_eq!(sample_count(&parsed.families), count_sample_lines(text), "{file}: samples");
        if let Some([histograms, summaries, counters, gauges]) = kinds {
            let count = |k| parsed.families.iter().filter(|f| f.kind == k).count();
            assert_eq!(
                [
                    count(MetricKind::Histogram),
                    count(MetricKind::Summary),
                    count(MetricKind::Counter),
                    count(MetricKind::Gauge)
                ],
                [histograms, summaries, counters, gauges],
                "{file}: kinds"
            );
        }
        assert!(parse(text).is_ok(), "{file}: strict");
        let mut seen = std::collections::HashSet::new();
        assert!(parsed.families.iter().all(|f| seen.insert(f.name.clone())), "{file}: names unique");
    }
}

#[test]
fn fixture_details_survive_parsing() {
    let all = fixtures();
    let families = parse(all[1].1).unwrap();
    let pod_start = families.iter().find(|f| f.name == "kubelet_pod_start_duration_seconds").unwrap();
    assert_eq!(pod_start.kind, MetricKind::Histogram);
    assert_eq!(pod_start.samples_named("kubelet_pod_start_duration_seconds_bucket").count(), 12);
    let count = pod_start.samples_named("kubelet_pod_start_duration_seconds_count").next().unwrap();
    assert_eq!(count.value, 30.0);
    let sum = pod_start.samples_named("kubelet_pod_start_duration_seconds_sum").next().unwrap();
    assert_eq!(sum.value, 146.698439544);
    let nans = families.iter().flat_map(|f| &f.samples).filter(|s| s.value.is_nan()).count();
    assert_eq!(nans, 75);

    let families = parse(all[2].1).unwrap();
    let empty_help = families.iter().filter(|f| f.help == "[ALPHA]").count();
    assert_eq!(empty_help, 4, "HELP `[ALPHA] ` with trailing blank");
    let ttl = families.iter().find(|f| f.name == "rest_client_exec_plugin_ttl_seconds").unwrap();
    assert_eq!(ttl.samples[0].value, f64::INFINITY);
    let empty_values =
        families.iter().flat_map(|f| &f.samples).filter(|s| s.label("runtime_handler") == Some(""));
    assert_eq!(empty_values.count(), 14);

    let cadvisor = parse(all[5].1).unwrap();
    let stamped = cadvisor.iter().flat_map(|f| &f.samples).filter(|s| s.timestamp_ms.is_some()).count();
    assert_eq!(stamped, 4246);

    let seed = parse(SEED).unwrap();
    assert_eq!(seed.len(), 1);
    assert_eq!(seed[0].samples.len(), 28);
    assert_eq!(seed[0].samples.last().unwrap().value, 74.0);
}

#[test]
fn chunk_split_at_every_byte_gives_the_same_parse() {
    for text in [SEED, fixtures()[6].1, fixtures()[7].1] {
        let whole = parse_bytes(text.as_bytes(), &Selector::all());
        for split in 0..=text.len() {
            let mut parser = StreamParser::new(Selector::all());
            parser.feed(&text.as_bytes()[..split]);
            parser.feed(&text.as_bytes()[split..]);
            let parsed = parser.finish();
            assert!(same(&parsed.families, &whole.families), "split at {split}");
            assert_eq!(parsed.errors, whole.errors);
        }
    }
}

#[test]
fn random_chunkings_of_big_fixtures_give_the_same_parse() {
    let selector: Selector = "container_cpu_*".parse().unwrap();
    for (file, text, ..) in fixtures() {
        let whole = parse_bytes(text.as_bytes(), &Selector::all());
        let kept = parse_bytes(text.as_bytes(), &selector);
        for seed in 1..6 {
            for max_chunk in [7, 600, 70_000] {
                let chunked = parse_in_chunks(text.as_bytes(), seed, max_chunk, &Selector::all());
                assert!(same(&chunked.families, &whole.families), "{file} seed {seed}/{max_chunk}");
                let chunked = parse_in_chunks(text.as_bytes(), seed, max_chunk, &selector);
                assert!(same(&chunked.families, &kept.families), "{file} seed {seed}/{max_chunk} selected");
            }
        }
    }
}

#[test]
fn a_selector_keeps_one_family_exactly_as_a_full_parse_has_it() {
    let text = fixtures()[5].1;
    let all = parse(text).unwrap();
    for name in ["container_memory_working_set_bytes", "machine_cpu_cores", "cadvisor_version_info"] {
        let parsed = parse_bytes(text.as_bytes(), &name.parse().unwrap());
        assert_eq!(parsed.errors, vec![]);
        assert_eq!(parsed.families.len(), 1, "{name}");
        let full = all.iter().find(|f| f.name == name).unwrap();
        assert!(same(&parsed.families, std::slice::from_ref(full)), "{name}");
    }
    let matched: Selector =
        r#"container_cpu_usage_seconds_total{namespace="kube-system",container=~"kube-.*"}"#.parse().unwrap();
    let parsed = parse_bytes(text.as_bytes(), &matched);
    let samples = &parsed.families[0].samples;
    assert!(!samples.is_empty());
    assert!(samples.iter().all(|s| s.label("namespace") == Some("kube-system")
        && s.label("container").is_some_and(|c| c.starts_with("kube-"))));
    let nothing = parse_bytes(text.as_bytes(), &"no_such_family".parse().unwrap());
    assert!(nothing.families.is_empty() && nothing.errors.is_empty());
    assert!(nothing.valid_lines > 0, "the lines were Prometheus text, just not selected");
}

#[test]
fn histogram_series_and_globs_select_their_family() {
    let text = fixtures()[2].1;
    let buckets = parse_bytes(text.as_bytes(), &"kubelet_pod_start_duration_seconds_bucket".parse().unwrap());
    assert_eq!(buckets.families.len(), 1);
    assert_eq!(buckets.families[0].name, "kubelet_pod_start_duration_seconds");
    assert!(buckets.families[0].samples.iter().all(|s| s.name.ends_with("_bucket")));
    let whole = parse_bytes(text.as_bytes(), &"kubelet_pod_start_duration_seconds".parse().unwrap());
    assert_eq!(whole.families[0].samples.len(), buckets.families[0].samples.len() + 2);
    let globbed = parse_bytes(text.as_bytes(), &"*_duration_seconds".parse().unwrap());
    assert!(globbed.families.len() > 5);
    assert!(globbed.families.iter().all(|f| f.name.ends_with("_duration_seconds")));
}

#[test]
fn visit_sees_what_parse_builds() {
    for (file, text, ..) in fixtures() {
        let mut seen = 0;
        let mut names_ok = true;
        let errors = visit(text.as_bytes(), &Selector::all(), |family, sample| {
            seen += 1;
            names_ok &= sample.name.starts_with(&family.name);
        });
        assert_eq!(errors, vec![], "{file}");
        assert_eq!(seen, count_sample_lines(text), "{file}");
        assert!(names_ok, "{file}");
    }
}

#[test]
fn grouping_follows_type_lines() {
    let text = "# HELP h Latency.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 3\nh_count 2\n\
                h_created 1.7e9\n# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n# TYPE c counter\n\
                c_total 4\nc_created 5\nloose{a=\"b\"} 1\nloose 2\nloose_sum 3\n";
    let families = parse(text).unwrap();
    let summary: Vec<_> = families.iter().map(|f| (f.name.as_str(), f.kind, f.samples.len())).collect();
    assert_eq!(
        summary,
        vec![
            ("h", MetricKind::Histogram, 5),
            ("s", MetricKind::Summary, 3),
            ("c", MetricKind::Counter, 2),
            ("loose", MetricKind::Untyped, 2),
            ("loose_sum", MetricKind::Untyped, 1),
        ]
    );
    assert_eq!(families[0].help, "Latency.");
}

#[test]
fn openmetrics_payloads_parse() {
    let text = "# TYPE x counter\n# UNIT x seconds\n# HELP x Doc.\nx_total 1 # {trace_id=\"abc\"} 0.5 123\n\
                x_created 1.5e9\n# EOF\n";
    let families = parse(text).unwrap();
    assert_eq!(families[0].unit, "seconds");
    assert_eq!(families[0].help, "Doc.");
    assert_eq!(families[0].samples.len(), 2);
    let after = parse_bytes(b"a 1\n# EOF\nb 2\n", &Selector::all());
    assert_eq!(after.families.len(), 1);
    assert_eq!(after.errors, vec![ParseError { line: 3, kind: ParseErrorKind::ContentAfterEof }]);
}

#[test]
fn crlf_tabs_and_missing_final_newline() {
    let text = "# TYPE x gauge\r\nx{a=\"1\",}\t\t2  1700000000000\r\n   x{} 3";
    let families = parse(text).unwrap();
    let samples = &families[0].samples;
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0].timestamp_ms, Some(1_700_000_000_000));
    assert_eq!(samples[1].value, 3.0);
}

#[test]
fn a_sample_without_labels_after_one_with_labels_has_none() {
    let families = parse("# TYPE h histogram\nh_bucket{le=\"1\",a=\"x\"} 1\nh_sum 2\nh_count 1\n").unwrap();
    let samples = &families[0].samples;
    assert_eq!(samples[0].labels.iter().collect::<Vec<_>>(), [("le", "1"), ("a", "x")]);
    assert!(samples[1].labels.is_empty() && samples[2].labels.is_empty());
}

#[test]
fn a_family_that_resumes_is_merged() {
    let families = parse("a 1\nb 1\na 2\n").unwrap();
    assert_eq!(families.len(), 2);
    assert_eq!(families[0].samples.len(), 2);
}

/// The malformed-input catalogue: each line gives a clear error naming the line and reason,
/// the bad line is dropped, the good families around it are kept.
#[test]
fn malformed_inputs_give_line_errors_and_keep_the_rest() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("bad escape", br#"bad{a="\q"} 1"#.to_vec(), "invalid escape `\\q`"),
        ("unterminated label set", br#"bad{a="1" "#.to_vec(), "label set is not closed"),
        ("unterminated label set at end", b"bad{a=\"1\",".to_vec(), "label set is not closed"),
        ("unterminated quote", br#"bad{a="1} 2"#.to_vec(), "label value is not closed"),
        ("missing comma", br#"bad{a="1" b="2"} 2"#.to_vec(), "expected `,` or `}`"),
        ("unquoted value", br#"bad{a=1} 2"#.to_vec(), "value of label `a` is not quoted"),
        ("non-numeric value", b"bad 12abc".to_vec(), "value `12abc` is not a number"),
        ("comma decimal", b"bad 1,5".to_vec(), "value `1,5` is not a number"),
        ("duplicate label", br#"bad{a="1",a="2"} 1"#.to_vec(), "duplicate label `a`"),
        ("invalid metric name", b"1bad 1".to_vec(), "invalid metric name `1bad`"),
        ("dash in metric name", b"bad-name 1".to_vec(), "invalid metric name `bad-name`"),
        ("invalid label name", br#"bad{0a="1"} 1"#.to_vec(), "invalid label name `0a`"),
        ("dotted label name", br#"bad{a.b="1"} 1"#.to_vec(), "invalid label name `a.b`"),
        ("missing value", b"bad".to_vec(), "sample has no value"),
        ("missing value after labels", br#"bad{a="1"}"#.to_vec(), "sample has no value"),
        ("bad float timestamp", b"bad 1 1.5.5".to_vec(), "timestamp `1.5.5` is not"),
        ("overflowing timestamp", b"bad 1 99999999999999999999".to_vec(), "is not a number of milliseconds"),
        ("garbage after value", b"bad 1 2 extra".to_vec(), "unexpected text `extra`"),
        ("invalid UTF-8", b"bad{a=\"\xff\xfe\"} 1".to_vec(), "not valid UTF-8"),
        ("unknown TYPE", b"# TYPE bad histogrm".to_vec(), "unknown metric type `histogrm`"),
        ("TYPE with bad name", b"# TYPE 0bad gauge".to_vec(), "invalid metric name `0bad`"),
        ("HELP without name", b"# HELP".to_vec(), "`# HELP` line without a metric name"),
        ("bucket without le", b"# TYPE good histogram\ngood_bucket{a=\"1\"} 1".to_vec(), "no `le` label"),
        (
            "le not a number",
            b"# TYPE good histogram\ngood_bucket{le=\"x\"} 1".to_vec(),
            "`le` is not a number",
        ),
        (
            "quantile not a number",
            b"# TYPE good summary\ngood{quantile=\"p99\"} 1".to_vec(),
            "`quantile` is not",
        ),
        (
            "TYPE after samples",
            b"late 1\n# TYPE late gauge".to_vec(),
            "TYPE line for `late` after its samples",
        ),
        (
            "two TYPE lines",
            b"# TYPE twice gauge\n# TYPE twice counter".to_vec(),
            "second TYPE line for `twice`",
        ),
        ("two HELP lines", b"# HELP twice a\n# HELP twice b".to_vec(), "second HELP line for `twice`"),
        ("NUL byte", b"bad\0 1".to_vec(), "invalid metric name"),
        ("brace in value", b"bad 1}".to_vec(), "value `1}` is not a number"),
    ];
    assert!(cases.len() >= 20);
    for (what, bad, reason) in cases {
        let mut text = b"# TYPE before gauge\nbefore 1\n".to_vec();
        text.extend_from_slice(&bad);
        text.extend_from_slice(b"\n# TYPE after counter\nafter 2\n");
        let parsed = parse_bytes(&text, &Selector::all());
        assert_eq!(parsed.errors.len(), 1, "{what}: {:?}", parsed.errors);
        let error = &parsed.errors[0];
        let bad_lines = bad.iter().filter(|&&c| c == b'\n').count();
        assert_eq!(error.line, 3 + bad_lines, "{what}");
        let message = error.to_string();
        assert!(message.starts_with(&format!("line {}: ", error.line)), "{what}: {message}");
        assert!(message.contains(reason), "{what}: {message}");
        let names: Vec<_> = parsed.families.iter().map(|f| f.name.as_str()).collect();
        assert!(names.first() == Some(&"before") && names.last() == Some(&"after"), "{what}: {names:?}");
        let strict = parse(&String::from_utf8_lossy(&text));
        if what != "invalid UTF-8" {
            assert_eq!(strict.unwrap_err(), *error, "{what}");
        }
    }
}

#[test]
fn a_line_over_one_mebibyte_is_read_as_prometheus_reads_it() {
    // Prometheus has no line limit; the body limit (`--max-body`) bounds memory instead.
    let mut text = b"a 1\nhuge{v=\"".to_vec();
    text.resize(text.len() + 2 * (1 << 20), b'x');
    text.extend_from_slice(b"\"} 1\nb 2\n");
    for parsed in [parse_bytes(&text, &Selector::all()), parse_in_chunks(&text, 3, 100_000, &Selector::all())]
    {
        assert!(parsed.errors.is_empty(), "{:?}", parsed.errors);
        assert_eq!(parsed.families.len(), 3);
        assert_eq!(parsed.families[1].samples[0].labels.iter().next().map(|(_, v)| v.len()), Some(2 << 20));
    }
}

#[test]
fn a_line_over_a_chosen_limit_is_an_error_not_a_buffer() {
    let text = b"a 1\nhuge{v=\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"} 1\nb 2\n";
    let mut parser = StreamParser::new(Selector::all()).with_max_line(16);
    for chunk in text.chunks(5) {
        parser.feed(chunk);
    }
    let parsed = parser.finish();
    assert_eq!(parsed.errors, vec![ParseError { line: 2, kind: ParseErrorKind::LineTooLong { max: 16 } }]);
    assert_eq!(parsed.families.len(), 2);
}

#[test]
fn errors_are_capped() {
    let text = "bad line\n".repeat(MAX_ERRORS + 5);
    let parsed = parse_bytes(text.as_bytes(), &Selector::all());
    assert_eq!(parsed.errors.len(), MAX_ERRORS + 1);
    assert_eq!(parsed.errors.last().unwrap().kind, ParseErrorKind::TooManyErrors { omitted: 5 });
}

#[test]
fn write_injects_the_node_label_and_reads_back() {
    for (file, text, ..) in fixtures() {
        let families = parse(text).unwrap();
        let mut out = Vec::new();
        write(&families, None, &mut out).unwrap();
        let again = parse(std::str::from_utf8(&out).unwrap()).unwrap();
        assert!(same(&again, &families), "{file}");
        let mut out = Vec::new();
        write(&families, Some(("node", "n1")), &mut out).unwrap();
        let labelled = parse(std::str::from_utf8(&out).unwrap()).unwrap();
        assert_eq!(sample_count(&labelled), sample_count(&families));
        assert!(
            labelled.iter().flat_map(|f| &f.samples).all(|s| s.labels.iter().next() == Some(("node", "n1")))
        );
    }
}

// --- properties ---

fn label_value() -> impl Strategy<Value = String> {
    "[a-z0-9 \"\\\\\n{}=,#é\t]{0,8}"
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        (0u32..1000).prop_map(f64::from),
    ]
}

fn labels(reserved: &'static str) -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::btree_map("[a-z_][a-z0-9_]{0,5}", label_value(), 0..4)
        .prop_map(move |m| m.into_iter().filter(|(k, _)| k != reserved).collect::<Vec<_>>())
}

fn sample_of(name: String, reserved: &'static str) -> impl Strategy<Value = Sample> {
    (labels(reserved), value(), prop::option::of(any::<i64>())).prop_map(
        move |(labels, value, timestamp_ms)| Sample {
            name: name.as_str().into(),
            labels: labels.into_iter().collect(),
            value,
            timestamp_ms,
        },
    )
}

fn family(index: usize) -> impl Strategy<Value = Family> {
    let kinds = prop_oneof![
        Just(MetricKind::Counter),
        Just(MetricKind::Gauge),
        Just(MetricKind::Untyped),
        Just(MetricKind::Histogram),
        Just(MetricKind::Summary),
    ];
    ("[a-z]{1,6}", kinds, "([a-zA-Z0-9\\\\\n\"]([a-zA-Z0-9 \\\\\n\"]{0,10}[a-zA-Z0-9\\\\\n\"])?)?")
        .prop_flat_map(move |(stem, kind, help)| {
            let name = format!("f{index}_{stem}");
            let samples = match kind {
                MetricKind::Histogram => prop::collection::vec(
                    prop_oneof![
                        (sample_of(format!("{name}_bucket"), "le"), value()).prop_map(|(mut s, le)| {
                            s.labels.push("le", &format_value(le));
                            s
                        }),
                        sample_of(format!("{name}_sum"), "le"),
                        sample_of(format!("{name}_count"), "le"),
                    ],
                    1..5,
                )
                .boxed(),
                MetricKind::Summary => prop::collection::vec(
                    prop_oneof![
                        (sample_of(name.clone(), "quantile"), 0.0..1.0f64).prop_map(|(mut s, q)| {
                            let quantile = format_value(q);
                            s.labels = std::iter::once(("quantile", quantile.as_str()))
                                .chain(s.labels.iter())
                                .collect();
                            s
                        }),
                        sample_of(format!("{name}_sum"), "quantile"),
                        sample_of(format!("{name}_count"), "quantile"),
                    ],
                    1..5,
                )
                .boxed(),
                _ => prop::collection::vec(sample_of(name.clone(), ""), 1..5).boxed(),
            };
            (Just(name), Just(kind), Just(help), samples)
        })
        .prop_map(|(name, kind, help, samples)| Family { name, help, kind, unit: String::new(), samples })
}

fn families() -> impl Strategy<Value = Vec<Family>> {
    (0usize..5).prop_flat_map(|n| (0..n).map(family).collect::<Vec<_>>())
}

/// Bytes that look like exposition text, to reach deep into the parser.
fn exposition_like() -> impl Strategy<Value = Vec<u8>> {
    const TOKENS: [&[u8]; 24] = [
        b"# TYPE ",
        b"# HELP ",
        b"# UNIT ",
        b"# EOF",
        b"histogram",
        b"summary",
        b"counter",
        b"x",
        b"x_bucket",
        b"x_sum",
        b"{",
        b"}",
        b"le=\"",
        b"\"",
        b",",
        b"=",
        b"\\",
        b"\n",
        b" ",
        b"\t",
        b"1.5e+06",
        b"+Inf",
        b"NaN",
        b"\xff\xfe",
    ];
    prop::collection::vec(
        prop_oneof![
            prop::sample::select(TOKENS.to_vec()).prop_map(<[u8]>::to_vec),
            any::<u8>().prop_map(|b| vec![b]),
        ],
        0..80,
    )
    .prop_map(|parts| parts.concat())
}

proptest! {
    #[test]
    fn the_label_name_filter_never_rules_out_a_label_the_sample_has(
        names in prop::collection::btree_set("[a-zA-Z_][a-zA-Z0-9_]{0,12}", 0..48),
    ) {
        // Past 32 labels the parser tracks names in a set; the filter must then answer "maybe".
        let labels: Vec<String> = names.iter().map(|n| format!("{n}=\"v\"")).collect();
        let line = format!("x{{{}}} 1", labels.join(","));
        let Ok(Line::Sample(sample)) = parse_line(line.as_bytes()) else { panic!("{line}") };
        for name in &names {
            prop_assert!(sample.may_have_label(name.as_bytes()), "{name} in {line}");
        }
    }

    #[test]
    fn write_then_parse_round_trips(families in families()) {
        let mut out = Vec::new();
        write(&families, None, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let parsed = parse(&text);
        prop_assert!(parsed.is_ok(), "{text}\n{parsed:?}");
        prop_assert!(same(&parsed.unwrap(), &families), "{}", text);
    }

    #[test]
    fn any_chunking_gives_the_same_parse(families in families(), cuts in prop::collection::vec(any::<usize>(), 0..6)) {
        let mut out = Vec::new();
        write(&families, Some(("node", "n")), &mut out).unwrap();
        let whole = parse_bytes(&out, &Selector::all());
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (out.len() + 1)).collect();
        points.sort_unstable();
        let mut parser = StreamParser::new(Selector::all());
        let mut start = 0;
        for p in points.into_iter().chain([out.len()]) {
            parser.feed(&out[start..p]);
            start = p;
        }
        let chunked = parser.finish();
        prop_assert!(same(&chunked.families, &whole.families));
        prop_assert_eq!(chunked.errors, whole.errors);
    }

    #[test]
    fn a_sample_owns_the_labels_of_its_own_line(
        pool in prop::collection::vec(prop::collection::btree_map("[a-c]", "[xy\\\\\"]{0,3}", 0..3), 1..4),
        families in prop::collection::vec(prop::collection::vec((0usize..8, 0u8..8), 0..6), 1..6),
    ) {
        // Families drawing their label sets from a small pool, so the same text often sits at
        // the same place in the family before; a dropped line (bad value) or a family resuming
        // now and then shifts the places.
        let escape = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
        let mut text = String::new();
        for (f, samples) in families.iter().enumerate() {
            let name = format!("f{}", f % 4);
            for (pick, kind) in samples {
                let labels: Vec<String> =
                    pool[pick % pool.len()].iter().map(|(n, v)| format!("{n}=\"{}\"", escape(v))).collect();
                let value = if *kind == 0 { "bad" } else { "1" };
                text += &format!("{name}{{{}}} {value}\n", labels.join(","));
            }
        }
        let owned = parse_bytes(text.as_bytes(), &Selector::all());
        let mut expected: Vec<(String, Vec<(String, String)>)> = Vec::new();
        visit(text.as_bytes(), &Selector::all(), |family, s| {
            expected.push((family.name.clone(), s.labels().map(|(n, v)| (n.to_owned(), v.into_owned())).collect()));
        });
        // Families merge by name in order of first appearance; within each, input order.
        expected.sort_by_key(|(family, _)| owned.families.iter().position(|f| f.name == *family));
        let got: Vec<(String, Vec<(String, String)>)> = owned
            .families
            .iter()
            .flat_map(|f| f.samples.iter().map(|s| {
                (f.name.clone(), s.labels.iter().map(|(n, v)| (n.to_owned(), v.to_owned())).collect())
            }))
            .collect();
        prop_assert_eq!(got, expected, "{}", text);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400), split in any::<usize>()) {
        let whole = parse_bytes(&bytes, &Selector::all());
        let split = split % (bytes.len() + 1);
        let mut parser = StreamParser::new(Selector::all());
        parser.feed(&bytes[..split]);
        parser.feed(&bytes[split..]);
        prop_assert_eq!(parser.finish().errors, whole.errors);
        let _ = visit(&bytes, &"a*{a=~\".+\"}".parse().unwrap(), |_, s| { let _ = s.labels().count(); });
    }

    #[test]
    fn exposition_like_bytes_never_panic(bytes in exposition_like(), split in any::<usize>()) {
        let whole = parse_bytes(&bytes, &Selector::all());
        let split = split % (bytes.len() + 1);
        let mut parser = StreamParser::new(Selector::all());
        parser.feed(&bytes[..split]);
        parser.feed(&bytes[split..]);
        let chunked = parser.finish();
        prop_assert!(same(&chunked.families, &whole.families));
        prop_assert_eq!(chunked.errors, whole.errors);
        let _ = parse_bytes(&bytes, &"a_*".parse().unwrap());
        let mut out = Vec::new();
        write(&whole.families, Some(("node", "x")), &mut out).unwrap();
    }
}

#[test]
fn openmetrics_float_second_timestamps_are_milliseconds() {
    let parsed = parse("a 1 1700000000.123\nb 2 1.7e9\nc 3 1700000000123\n").unwrap();
    let stamps: Vec<Option<i64>> = parsed.iter().map(|f| f.samples[0].timestamp_ms).collect();
    assert_eq!(stamps, [Some(1_700_000_000_123), Some(1_700_000_000_000), Some(1_700_000_000_123)]);
    assert!(parse("a 1 1.5x\n").is_err());
}

#[test]
fn prometheus_3_quoted_utf8_names_are_parsed_and_written_back() {
    // `escaping=allow-utf-8`: names with dots, quoted in the label set and in metadata.
    let text = "# HELP \"http.server.duration\" Time.\n# TYPE \"http.server.duration\" histogram\n\
                {\"http.server.duration_bucket\",\"http.route\"=\"/a\",le=\"1\"} 2\n\
                {\"http.server.duration_bucket\",\"http.route\"=\"/a\",le=\"+Inf\"} 3\n\
                {\"http.server.duration_count\",\"http.route\"=\"/a\"} 3\n\
                {\"up.time\"} 7 1700000000.5\n";
    let families = parse(text).unwrap();
    assert_eq!(families[0].name, "http.server.duration");
    assert_eq!(families[0].kind, MetricKind::Histogram);
    assert_eq!(families[0].samples.len(), 3);
    assert_eq!(families[0].samples[0].labels.iter().next(), Some(("http.route", "/a")));
    assert_eq!(&*families[1].samples[0].name, "up.time");
    assert_eq!(families[1].samples[0].timestamp_ms, Some(1_700_000_000_500));
    let mut out = Vec::new();
    write(&families, None, &mut out).unwrap();
    let written = String::from_utf8(out).unwrap();
    assert!(
        written.contains("{\"http.server.duration_bucket\",\"http.route\"=\"/a\",le=\"1\"} 2\n"),
        "{written}"
    );
    assert_eq!(parse(&written).unwrap(), families, "written text reads back the same");
    // Selectors and the zero-copy walk see the same names.
    let selected = parse_bytes(text.as_bytes(), &"up.time".parse().unwrap_or_else(|_| Selector::all()));
    assert!(selected.errors.is_empty(), "{:?}", selected.errors);
}

#[test]
fn utf8_checked_a_window_at_a_time_loses_no_line_and_finds_every_bad_one() {
    // Two-byte characters over several check windows, so windows end inside a character; two
    // lines with an invalid byte (in a label value, and in a HELP text) among them.
    let mut text = b"# HELP x Temp\xc3\xa9rature.\n# TYPE x gauge\n".to_vec();
    for n in 0..20_000 {
        match n {
            7_000 => text.extend_from_slice(b"x{a=\"\xff\"} 1\n"),
            13_000 => text.extend_from_slice(b"# HELP y bad \xc3\n"),
            _ => text.extend_from_slice(format!("x{{a=\"\u{e9}{n}\",b=\"\u{1F600}\"}} {n}\n").as_bytes()),
        }
    }
    for parsed in [parse_bytes(&text, &Selector::all()), parse_in_chunks(&text, 7, 100_000, &Selector::all())]
    {
        let errors: Vec<String> = parsed.errors.iter().map(ToString::to_string).collect();
        assert_eq!(errors, ["line 7003: line is not valid UTF-8", "line 13003: line is not valid UTF-8"]);
        let x = &parsed.families[0];
        assert_eq!((x.help.as_str(), x.samples.len()), ("Temp\u{e9}rature.", 19_998));
        for sample in &x.samples {
            let n = sample.value as u64;
            assert_eq!(sample.labels.get("a"), Some(format!("\u{e9}{n}").as_str()), "{n}");
            assert_eq!(sample.labels.get("b"), Some("\u{1F600}"));
        }
    }
}

#[test]
fn a_sample_shares_the_label_set_of_the_same_place_in_the_family_before() {
    // `b` lists the containers of `a` in the same order (as cadvisor does); `h` lists one of
    // them at another place, `d` in another order, and a value with an escape twice.
    let text = "# TYPE a gauge\na{c=\"x\",p=\"1\"} 1\na{c=\"y\",p=\"2\"} 2\n\
                # TYPE b gauge\nb{c=\"x\",p=\"1\"} 3\nb{c=\"y\",p=\"2\"} 4\n\
                # TYPE h histogram\nh_bucket{c=\"y\",p=\"2\",le=\"1\"} 1\nh_bucket{c=\"y\",p=\"2\",le=\"+Inf\"} 1\n\
                h_sum 1\nh_count 1\n\
                # TYPE d gauge\nd{c=\"x\\\\\",p=\"1\"} 5\nd{c=\"x\",p=\"1\"} 6\nd 7\nd 8\n\
                # TYPE e gauge\ne{c=\"x\\\\\",p=\"1\"} 9\n";
    let families = parse(text).expect("valid");
    let samples: Vec<&Sample> = families.iter().flat_map(|f| &f.samples).collect();
    let shared = |a: usize, b: usize| Arc::ptr_eq(&samples[a].labels.0, &samples[b].labels.0);
    assert!(shared(0, 2) && shared(1, 3), "same place in the family before");
    assert!(shared(6, 7) && shared(10, 11), "no labels: one set");
    assert!(shared(8, 12), "same text, escapes included");
    // Equal sets at other places are equal, not shared.
    assert!(!shared(0, 9) && samples[0].labels == samples[9].labels);
    assert!(!shared(0, 1) && !shared(8, 9));
    assert_eq!(samples[8].labels.get("c"), Some("x\\"));
    assert!(Arc::ptr_eq(&samples[4].name, &samples[5].name), "h_bucket twice");
    assert_eq!([&*samples[6].name, &*samples[7].name], ["h_sum", "h_count"]);
    // The parse is what a set built by hand says.
    let by_hand: LabelSet = [("c", "y"), ("p", "2")].into_iter().collect();
    assert_eq!(samples[1].labels, by_hand);
}

#[test]
fn changing_a_shared_label_set_leaves_the_other_samples_alone() {
    let mut families = parse("a{c=\"x\"} 1\na{c=\"x\"} 2\n").expect("valid");
    let samples = &mut families[0].samples;
    samples[0].labels.push("node", "n1");
    assert_eq!(samples[0].labels.iter().collect::<Vec<_>>(), [("c", "x"), ("node", "n1")]);
    assert_eq!(samples[1].labels.iter().collect::<Vec<_>>(), [("c", "x")]);
}
