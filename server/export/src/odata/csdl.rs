//! The `$metadata` document (CSDL XML) of a feed: an entity type and an entity set per
//! set, every property typed, the key `__id`.

use std::fmt::Write;

use super::{Property, Service, Source};

/// The schema namespace entity types are qualified with.
pub const NAMESPACE: &str = "terrain";

/// The CSDL XML of `service`, whose container is named `container`.
pub fn metadata(service: &Service, container: &str) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <edmx:Edmx xmlns:edmx=\"http://docs.oasis-open.org/odata/ns/edmx\" Version=\"4.0\">\n\
         <edmx:DataServices>\n",
    );
    let _ = writeln!(xml, "<Schema xmlns=\"http://docs.oasis-open.org/odata/ns/edm\" Namespace=\"{NAMESPACE}\">");
    for set in &service.sets {
        let _ = writeln!(xml, "<EntityType Name=\"{}\">", escape(&set.name));
        xml.push_str("<Key><PropertyRef Name=\"__id\"/></Key>\n");
        for property in &set.properties {
            xml.push_str(&property_xml(property));
        }
        xml.push_str("</EntityType>\n");
    }
    let _ = writeln!(xml, "<EntityContainer Name=\"{}\">", escape(container));
    for set in &service.sets {
        let _ = writeln!(xml, "<EntitySet Name=\"{0}\" EntityType=\"{NAMESPACE}.{0}\"/>", escape(&set.name));
    }
    xml.push_str("</EntityContainer>\n</Schema>\n</edmx:DataServices>\n</edmx:Edmx>\n");
    xml
}

fn property_xml(p: &Property) -> String {
    let nullable = if matches!(p.source, Source::Id | Source::ParentId | Source::SubmissionId) {
        " Nullable=\"false\""
    } else {
        ""
    };
    // Geography values carry their reference system: WGS 84, as GPS gives them.
    let srid = if p.edm.name().starts_with("Edm.Geography") { " SRID=\"4326\"" } else { "" };
    format!("<Property Name=\"{}\" Type=\"{}\"{nullable}{srid}/>\n", escape(&p.name), p.edm.name())
}

/// Text safe inside an XML attribute.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use terrain_core::form::Form;

    use super::*;

    #[test]
    fn every_set_has_a_typed_entity_type_keyed_by_id() {
        let form = Form::from_json(
            r#"{"id": "plots", "version": "3", "title": "t", "children": [
              {"node": "question", "name": "yield-kg", "type": {"kind": "decimal"}},
              {"node": "question", "name": "where", "type": {"kind": "geopoint"}},
              {"node": "repeat", "name": "crop", "children": [
                {"node": "question", "name": "seeds", "type": {"kind": "integer"}}
              ]}
            ]}"#,
        )
        .unwrap();
        let service = Service::new(&[Arc::new(form)]).unwrap();
        let xml = metadata(&service, "project_1");
        assert!(xml.contains("<EntityType Name=\"plots_v3\">"), "{xml}");
        assert!(xml.contains("<Property Name=\"yield_kg\" Type=\"Edm.Decimal\"/>"), "{xml}");
        assert!(xml.contains("<Property Name=\"where\" Type=\"Edm.GeographyPoint\" SRID=\"4326\"/>"), "{xml}");
        assert!(xml.contains("<EntityType Name=\"plots_v3__crop\">"), "{xml}");
        assert!(xml.contains("<Property Name=\"__parent_id\" Type=\"Edm.String\" Nullable=\"false\"/>"), "{xml}");
        assert!(xml.contains("<Property Name=\"seeds\" Type=\"Edm.Int64\"/>"), "{xml}");
        assert!(xml.contains("<EntitySet Name=\"plots_v3__crop\" EntityType=\"terrain.plots_v3__crop\"/>"), "{xml}");
        assert_eq!(escape("a<\"b\"&"), "a&lt;&quot;b&quot;&amp;");
    }
}
