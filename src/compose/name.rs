pub fn normalize_project_name(s: &str) -> String { s.to_string() }
