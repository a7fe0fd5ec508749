//! Parcel geometry read from GeoJSON files.
//!
//! A scenario may give its parcels as a FeatureCollection of Polygon features
//! in WGS 84 longitude/latitude; the `name` property names a parcel (else it
//! is numbered). Anything else is refused with the feature and what is wrong.

use std::path::Path;

use geo::Polygon;
use geojson::GeoJson;

use crate::spec::ScenarioError;

/// A named polygon.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub name: String,
    pub polygon: Polygon<f64>,
}

/// The polygons of a GeoJSON FeatureCollection; `path` names it in errors.
pub fn parse_polygons(text: &str, path: &Path) -> Result<Vec<Shape>, ScenarioError> {
    let err = |m: String| ScenarioError::new(path, m);
    let gj: GeoJson = text.parse().map_err(|e| err(format!("not GeoJSON: {e}")))?;
    let GeoJson::FeatureCollection(fc) = gj else {
        return Err(err(
            "expected a FeatureCollection of Polygon features".into()
        ));
    };
    if fc.features.is_empty() {
        return Err(err("the FeatureCollection has no features".into()));
    }
    let mut shapes = Vec::with_capacity(fc.features.len());
    for (i, f) in fc.features.into_iter().enumerate() {
        let name = f
            .properties
            .as_ref()
            .and_then(|p| p.get("name"))
            .and_then(|n| n.as_str())
            .map_or_else(|| format!("parcel-{i:03}"), str::to_string);
        let Some(geometry) = f.geometry else {
            return Err(err(format!("feature {i} ({name}): has no geometry")));
        };
        let kind = geometry.value.type_name();
        let polygon = Polygon::<f64>::try_from(geometry.value).map_err(|_| {
            err(format!(
                "feature {i} ({name}): geometry is a {kind}; parcels need a Polygon"
            ))
        })?;
        for c in polygon.exterior().coords() {
            if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
                return Err(err(format!(
                    "feature {i} ({name}): coordinate [{}, {}] is not longitude, latitude in degrees",
                    c.x, c.y
                )));
            }
        }
        if polygon.exterior().0.len() < 4 {
            return Err(err(format!(
                "feature {i} ({name}): a polygon ring needs at least 4 positions"
            )));
        }
        shapes.push(Shape { name, polygon });
    }
    Ok(shapes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<Shape>, String> {
        parse_polygons(text, Path::new("p.geojson")).map_err(|e| e.to_string())
    }

    #[test]
    fn polygons_are_read_with_their_names() {
        let shapes = parse(
            r#"{"type":"FeatureCollection","features":[
              {"type":"Feature","properties":{"name":"north"},"geometry":{"type":"Polygon",
               "coordinates":[[[-6.6,5.8],[-6.59,5.8],[-6.59,5.81],[-6.6,5.8]]]}}]}"#,
        )
        .unwrap();
        assert_eq!(shapes.len(), 1);
        assert_eq!(shapes[0].name, "north");
    }

    #[test]
    fn what_is_wrong_is_named() {
        let e = parse(r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"road"},"geometry":{"type":"LineString","coordinates":[[0,0],[1,1]]}}]}"#).unwrap_err();
        assert!(
            e.contains("feature 0 (road)") && e.contains("LineString"),
            "{e}"
        );
        let e = parse(r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[500000,5000000],[500100,5000000],[500100,5000100],[500000,5000000]]]}}]}"#).unwrap_err();
        assert!(
            e.contains("feature 0 (parcel-000)") && e.contains("longitude"),
            "{e}"
        );
        let e = parse("{\"type\": \"FeatureCollection\",\n \"features\": [}").unwrap_err();
        assert!(
            e.starts_with("p.geojson: not GeoJSON") && e.contains("line 2"),
            "{e}"
        );
        let e = parse(r#"{"type":"Point","coordinates":[0,0]}"#).unwrap_err();
        assert!(e.contains("FeatureCollection"), "{e}");
    }
}
