//! `area()` and `distance()`: the geometry of geoshape, geotrace and geopoint answers,
//! computed as ODK Collect's engine (JavaRosa's `GeoUtils`) computes it, so that a form's
//! calculations and constraints give the same numbers here as in Collect.
//!
//! # Input
//! ODK stores a geopoint as `"lat lon alt acc"` (decimal degrees, then metres; altitude and
//! accuracy may be left out) and a geotrace or geoshape as points separated by `;`
//! (`"12.1 -1.5 300 4; 12.2 -1.5 301 4; ..."`, a trailing `;` allowed). A geoshape repeats
//! its first point at the end. The argument may also be a reference to a geopoint inside a
//! repeat, which gives one point per instance.
//!
//! # Formulas (JavaRosa's)
//! The Earth is a sphere of radius [`EARTH_RADIUS_M`]: 6 378 100 m, JavaRosa's value, kept
//! so that the numbers match Collect's (WGS84's equatorial radius, 6 378 137 m, differs by
//! 6 parts per million, far less than the error below).
//! - **Distance** is the sum of the great-circle distances between consecutive points.
//!   JavaRosa writes it with the spherical law of cosines; we use the haversine form of the
//!   same distance, which keeps its precision for segments of a few metres (the law of
//!   cosines loses it below about a metre, and can give NaN for two equal points).
//! - **Area** projects the points on a sinusoidal (equal-area) projection centred on the
//!   first point — `y` = metres of latitude from it, `x` = metres of longitude from it at
//!   the point's own latitude — and sums the triangles fanning out from the first point
//!   (the shoelace formula). Fewer than three points enclose no area: 0.
//!
//! # Error
//! Against the WGS84 ellipsoid (GeographicLib), both differ by at most about 0.7 %: a sphere
//! is too long north–south near the equator and too short near the poles. For a square of
//! 0.001° (about 110 m a side) the area is 0.67 % too large at the equator, 0.62 % at
//! 11.8° N (Béguédo), exact to 0.001 % at 45°, 0.63 % too small at 80°; distances err by
//! −0.3 % to +0.7 % depending on latitude and heading. The projection's own error is negligible
//! for field plots (2.5e-5 relative for a 1°×1° shape). These are the numbers Collect
//! shows; an author who needs survey-grade areas should compute them from the exported
//! shapes instead.
//!
//! # Differences from JavaRosa
//! - An empty value (an unanswered shape) has no points, so its area and length are 0;
//!   JavaRosa fails there, which is why forms write `if(${shape} != '', area(${shape}), '')`.
//!   Empty pieces (`a;;b`) and unanswered repeat instances are skipped likewise.
//! - A literal string is accepted as well as a reference (JavaRosa requires a field).

/// The Earth's radius used by ODK Collect (JavaRosa's `EARTH_EQUATORIAL_RADIUS_METERS`).
pub(super) const EARTH_RADIUS_M: f64 = 6_378_100.0;

/// Metres per degree of latitude on that sphere.
const METRES_PER_DEGREE: f64 = 2.0 * std::f64::consts::PI * EARTH_RADIUS_M / 360.0;

/// A point in decimal degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct LatLon {
    /// Latitude, degrees north.
    pub lat: f64,
    /// Longitude, degrees east.
    pub lon: f64,
}

/// Parses one geopoint, `"lat lon [alt [acc]]"`; `None` when it is not one.
pub(super) fn parse_point(text: &str) -> Option<LatLon> {
    let mut numbers = text.split_whitespace().map(|part| part.parse::<f64>().ok().filter(|n| n.is_finite()));
    let lat = numbers.next()??;
    let lon = numbers.next()??;
    // Altitude and accuracy are optional, but must be numbers when present; nothing may
    // follow them.
    for _ in 0..2 {
        if let Some(extra) = numbers.next() {
            extra?;
        }
    }
    numbers.next().is_none().then_some(LatLon { lat, lon })
}

/// Adds the points of a geoshape or geotrace (or a lone geopoint) to `points`. Empty pieces
/// are skipped; `Err` holds the first piece that is not a point.
pub(super) fn parse_points<'t>(text: &'t str, points: &mut Vec<LatLon>) -> Result<(), &'t str> {
    for piece in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        points.push(parse_point(piece).ok_or(piece)?);
    }
    Ok(())
}

/// The length in metres of the path through `points`, in order.
pub(super) fn path_length(points: &[LatLon]) -> f64 {
    points.windows(2).map(|pair| great_circle(pair[0], pair[1])).sum()
}

/// The great-circle distance in metres (haversine form).
fn great_circle(a: LatLon, b: LatLon) -> f64 {
    let (phi1, phi2) = (a.lat.to_radians(), b.lat.to_radians());
    let half_dphi = (phi2 - phi1) / 2.0;
    let half_dlambda = (b.lon - a.lon).to_radians() / 2.0;
    let h = half_dphi.sin().powi(2) + phi1.cos() * phi2.cos() * half_dlambda.sin().powi(2);
    // Rounding can push h a hair outside [0, 1] for antipodal or equal points.
    2.0 * EARTH_RADIUS_M * h.clamp(0.0, 1.0).sqrt().asin()
}

/// The area in square metres enclosed by `points` (closed or not), as JavaRosa computes it.
pub(super) fn enclosed_area(points: &[LatLon]) -> f64 {
    let Some((origin, rest)) = points.split_first() else {
        return 0.0;
    };
    if rest.len() < 2 {
        return 0.0;
    }
    let project = |p: &LatLon| {
        let x = (p.lon - origin.lon) * METRES_PER_DEGREE * p.lat.to_radians().cos();
        let y = (p.lat - origin.lat) * METRES_PER_DEGREE;
        (x, y)
    };
    let projected: Vec<(f64, f64)> = rest.iter().map(project).collect();
    // Triangles (origin, p[i-1], p[i]); the origin is (0, 0) in the projection.
    let twice: f64 = projected.windows(2).map(|w| w[0].1 * w[1].0 - w[0].0 * w[1].1).sum();
    (twice / 2.0).abs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn points(text: &str) -> Vec<LatLon> {
        let mut out = Vec::new();
        parse_points(text, &mut out).unwrap();
        out
    }

    fn close(actual: f64, expected: f64, tolerance: f64) {
        assert!((actual - expected).abs() <= tolerance, "{actual} is not within {tolerance} of {expected}");
    }

    #[test]
    fn points_parse_as_odk_writes_them() {
        assert_eq!(parse_point("12.5 -1.25 300 4.5"), Some(LatLon { lat: 12.5, lon: -1.25 }));
        assert_eq!(parse_point(" 12.5   -1.25 "), Some(LatLon { lat: 12.5, lon: -1.25 }));
        assert_eq!(parse_point("12.5 -1.25 300"), Some(LatLon { lat: 12.5, lon: -1.25 }));
        for bad in ["", "12.5", "12.5 x", "12.5 1 2 3 4", "12.5 1 alt", "NaN 1", "inf 1"] {
            assert_eq!(parse_point(bad), None, "{bad:?}");
        }
        assert_eq!(points("1 2 0 0; 3 4 0 0;").len(), 2);
        assert_eq!(points("1 2;;3 4").len(), 2);
        assert!(points(" ; ").is_empty());
        let mut out = Vec::new();
        assert_eq!(parse_points("1 2; oops; 3 4", &mut out), Err("oops"));
    }

    #[test]
    fn one_degree_along_the_equator() {
        // 2π × 6 378 100 m / 360.
        close(path_length(&points("0 0 0 0; 0 1 0 0")), 111_318.845, 1e-3);
        close(path_length(&points("0 0; 0 90")), METRES_PER_DEGREE * 90.0, 1e-6);
        // Along a meridian as well, and nothing along a pole.
        close(path_length(&points("0 0; 1 0")), METRES_PER_DEGREE, 1e-6);
        close(path_length(&points("90 0; 90 1")), 0.0, 1e-6);
    }

    #[test]
    fn short_and_repeated_segments_keep_their_precision() {
        // Equal points: 0, not NaN (the law of cosines can give NaN here).
        assert_eq!(path_length(&points("12.3 -1.7; 12.3 -1.7")), 0.0);
        // One millionth of a degree of latitude: 0.1113 m.
        close(path_length(&points("12.3 -1.7; 12.300001 -1.7")), METRES_PER_DEGREE * 1e-6, 1e-9);
        assert_eq!(path_length(&points("12.3 -1.7")), 0.0);
        assert_eq!(path_length(&[]), 0.0);
    }

    #[test]
    fn area_of_a_square_at_the_equator() {
        // 0.001° a side: (111.319 m)², whichever way round and closed or not.
        let side = METRES_PER_DEGREE * 0.001;
        let closed = points("0 0 0 0; 0 0.001 0 0; 0.001 0.001 0 0; 0.001 0 0 0; 0 0 0 0");
        close(enclosed_area(&closed), side * side, 1e-3);
        close(enclosed_area(&closed), 12_391.885, 1e-3);
        let mut reversed = closed.clone();
        reversed.reverse();
        close(enclosed_area(&reversed), side * side, 1e-3);
        close(enclosed_area(&closed[..4]), side * side, 1e-3);
    }

    #[test]
    fn area_shrinks_with_the_cosine_of_latitude() {
        // A 100 m × 100 m field at Béguédo's latitude (11.8° N): the square of
        // 0.000898° of latitude by 0.000898°/cos(11.8°) of longitude.
        let d = 100.0 / METRES_PER_DEGREE;
        let lat: f64 = 11.8;
        let dl = d / lat.to_radians().cos();
        let square = [
            LatLon { lat, lon: -0.5 },
            LatLon { lat, lon: -0.5 + dl },
            LatLon { lat: lat + d, lon: -0.5 + dl },
            LatLon { lat: lat + d, lon: -0.5 },
            LatLon { lat, lon: -0.5 },
        ];
        close(enclosed_area(&square), 10_000.0, 2.0);
    }

    #[test]
    fn javarosa_reference_polygon() {
        // JavaRosa's GeoUtilsTest path 1 (checked there against mapdevelopers.com):
        // 151 452 m² and a path of 1 801 m, each within 0.5.
        let path = points(
            "38.253094215699576 21.756382658677467 0 0; 38.25021274773806 21.756382658677467 0 0; \
             38.25007793942195 21.763892843919166 0 0; 38.25290886154963 21.763935759263404 0 0; \
             38.25146813817506 21.758421137528785 0 0;",
        );
        close(enclosed_area(&path), 151_452.0, 0.5);
        close(path_length(&path), 1_801.0, 0.5);
    }

    #[test]
    fn fewer_than_three_points_enclose_nothing() {
        assert_eq!(enclosed_area(&[]), 0.0);
        assert_eq!(enclosed_area(&points("1 1; 2 2")), 0.0);
        // A shape that is only its first point repeated.
        assert_eq!(enclosed_area(&points("1 1; 1 1; 1 1")), 0.0);
    }
}
