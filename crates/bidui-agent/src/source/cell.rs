//! Cells as Excel shows them: a workbook keeps each cell's type, and [`Cell::text`] renders
//! it as a person sees it in Excel's General format.

use std::borrow::Cow;
use std::fmt;

use calamine::{DataType, ExcelDateTime};

/// A date (and time) cell of a workbook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellDate {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl fmt::Display for CellDate {
    /// `YYYY-MM-DD`, followed by ` HH:MM:SS` when the time is not midnight.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)?;
        if (self.hour, self.minute, self.second) != (0, 0, 0) {
            write!(f, " {:02}:{:02}:{:02}", self.hour, self.minute, self.second)?;
        }
        Ok(())
    }
}

/// One cell. CSV cells are `Empty` or `Text`; workbook cells keep their type.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Number(f64),
    Date(CellDate),
    Bool(bool),
    /// An Excel error value such as `#N/A`.
    Error(String),
}

impl Cell {
    /// The cell as a person sees it in Excel's General format (see [`general_number`]);
    /// dates as `YYYY-MM-DD`; booleans as `TRUE`/`FALSE`; empty as `""`.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Empty => Cow::Borrowed(""),
            Cell::Text(s) | Cell::Error(s) => Cow::Borrowed(s),
            Cell::Number(n) => Cow::Owned(general_number(*n)),
            Cell::Date(d) => Cow::Owned(d.to_string()),
            Cell::Bool(true) => Cow::Borrowed("TRUE"),
            Cell::Bool(false) => Cow::Borrowed("FALSE"),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Cell::Empty)
    }
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

/// Renders a number the way Excel displays it in General format, so that an identity number
/// mangled by Excel stays visibly mangled:
///
/// - 10¹⁵ or more in magnitude (more than 15 significant digits cannot survive a float):
///   scientific notation as Excel shows it in a standard-width column, at most 11
///   characters: `4.40118E+17`, `4.4E+17`, `1E+15`;
/// - an integral number below 10¹⁵: its plain digits (`440183800101001`);
/// - anything else: Rust's shortest round-trip form (`1.5`, `0.1`).
pub fn general_number(n: f64) -> String {
    if n == 0.0 {
        return "0".to_string(); // also -0
    }
    if !n.is_finite() {
        return n.to_string();
    }
    if n.abs() >= 1e15 {
        return excel_scientific(n);
    }
    if n.fract() == 0.0 {
        return (n as i64).to_string();
    }
    n.to_string()
}

fn excel_scientific(n: f64) -> String {
    let mut out = String::new();
    for significant in (1..=6).rev() {
        let formatted = format!("{:.*e}", significant - 1, n);
        let (mantissa, exponent) = formatted.split_once('e').expect("LowerExp has an exponent");
        let exponent: i32 = exponent.parse().expect("LowerExp exponent is an integer");
        let mantissa =
            if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
        let sign = if exponent < 0 { '-' } else { '+' };
        out = format!("{mantissa}E{sign}{:02}", exponent.unsigned_abs());
        if out.len() <= 11 {
            break;
        }
    }
    out
}

/// A date cell (or a duration, shown as `h:mm:ss`) from its Excel serial value.
fn excel_date(value: &ExcelDateTime) -> Cell {
    if value.is_duration() {
        let seconds = (value.as_f64() * 86_400.0).round() as i64;
        let sign = if seconds < 0 { "-" } else { "" };
        let seconds = seconds.unsigned_abs();
        return Cell::Text(format!("{sign}{}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60));
    }
    let (year, month, day, hour, minute, second, _milli) = value.to_ymd_hms_milli();
    Cell::Date(CellDate { year, month, day, hour, minute, second })
}

/// An ISO 8601 date-time cell (`t="d"`): the date alone when the time is midnight.
fn iso_date(s: &str) -> String {
    match s.split_once('T') {
        Some((date, time)) => {
            let time = time.trim_end_matches('Z');
            if time.trim_start_matches(['0', ':', '.']).is_empty() {
                date.to_string()
            } else {
                format!("{date} {time}")
            }
        }
        None => s.to_string(),
    }
}

/// A workbook value as a [`Cell`], its text still borrowed so that a row can copy it into a
/// buffer it reuses. Read through calamine's `DataType`, so one conversion serves both of
/// calamine's cell types: `Data` (an .xls sheet) and `DataRef` (the .xlsx cell stream).
pub(super) enum WorkbookCell<'a> {
    Text(&'a str),
    Other(Cell),
}

impl<'a> WorkbookCell<'a> {
    pub(super) fn of(value: &'a impl DataType) -> WorkbookCell<'a> {
        // Text first: it is what most cells of a department's export hold.
        if let Some(text) = value.get_string().or_else(|| value.get_duration_iso()) {
            return WorkbookCell::Text(text);
        }
        let cell = if let Some(float) = value.get_float() {
            Cell::Number(float)
        } else if let Some(int) = value.get_int() {
            Cell::Number(int as f64)
        } else if let Some(boolean) = value.get_bool() {
            Cell::Bool(boolean)
        } else if let Some(serial) = value.get_datetime() {
            excel_date(&serial)
        } else if let Some(iso) = value.get_datetime_iso() {
            Cell::Text(iso_date(iso))
        } else if let Some(error) = value.get_error() {
            Cell::Error(error.to_string())
        } else {
            Cell::Empty
        };
        WorkbookCell::Other(cell)
    }
}

#[cfg(test)]
mod tests {
    use calamine::{CellErrorType, Data, DataRef, ExcelDateTimeType};

    use super::*;

    #[test]
    fn numbers_render_as_excel_general_displays_them() {
        let cases: &[(f64, &str)] = &[
            // An 18-digit identity number stored as a number: digits are gone, show it.
            (440118198001010000.0, "4.40118E+17"),
            (440118198001011234.0, "4.40118E+17"),
            (123456789012345678.0, "1.23457E+17"),
            (440000000000000000.0, "4.4E+17"),
            (999999960000000000.0, "1E+18"),
            (1e15, "1E+15"),
            (-440118198001010000.0, "-4.4012E+17"),
            (1.2345678e100, "1.2346E+100"),
            // An old 15-digit identity number survives a float exactly.
            (440183800101001.0, "440183800101001"),
            (999999999999999.0, "999999999999999"),
            (42.0, "42"),
            (-3.0, "-3"),
            (0.0, "0"),
            (-0.0, "0"),
            (1.5, "1.5"),
            (0.1, "0.1"),
            (-2.25, "-2.25"),
            (1234.5678, "1234.5678"),
        ];
        for &(n, want) in cases {
            assert_eq!(general_number(n), want, "{n:e}");
            assert_eq!(Cell::Number(n).text(), want);
        }
    }

    #[test]
    fn dates_and_other_cells_render() {
        let date = CellDate { year: 1980, month: 1, day: 5, hour: 0, minute: 0, second: 0 };
        assert_eq!(Cell::Date(date).text(), "1980-01-05");
        let datetime = CellDate { hour: 13, minute: 4, second: 5, ..date };
        assert_eq!(Cell::Date(datetime).text(), "1980-01-05 13:04:05");
        assert_eq!(Cell::Bool(true).text(), "TRUE");
        assert_eq!(Cell::Empty.text(), "");
        assert_eq!(Cell::Error("#N/A".into()).text(), "#N/A");
        assert_eq!(iso_date("2024-03-01T00:00:00"), "2024-03-01");
        assert_eq!(iso_date("2024-03-01T08:30:00Z"), "2024-03-01 08:30:00");
        let serial = ExcelDateTime::new(29225.0, calamine::ExcelDateTimeType::DateTime, false);
        assert_eq!(excel_date(&serial).text(), "1980-01-05");
    }

    fn converted(value: &impl DataType) -> Cell {
        match WorkbookCell::of(value) {
            WorkbookCell::Text(text) => Cell::Text(text.to_string()),
            WorkbookCell::Other(cell) => cell,
        }
    }

    #[test]
    fn both_calamine_cell_types_convert_alike_for_every_variant() {
        let serial = ExcelDateTime::new(29225.5, ExcelDateTimeType::DateTime, false);
        let duration = ExcelDateTime::new(1.5, ExcelDateTimeType::TimeDelta, false);
        let date = CellDate { year: 1980, month: 1, day: 5, hour: 12, minute: 0, second: 0 };
        let cases = [
            (Data::String("张三".into()), DataRef::String("张三".into()), Cell::Text("张三".into())),
            (Data::Empty, DataRef::Empty, Cell::Empty),
            (Data::Int(42), DataRef::Int(42), Cell::Number(42.0)),
            (Data::Float(4.40118198001e17), DataRef::Float(4.40118198001e17), Cell::Number(4.40118198001e17)),
            (Data::Bool(false), DataRef::Bool(false), Cell::Bool(false)),
            (Data::DateTime(serial), DataRef::DateTime(serial), Cell::Date(date)),
            (Data::DateTime(duration), DataRef::DateTime(duration), Cell::Text("36:00:00".into())),
            (
                Data::DateTimeIso("2024-03-01T00:00:00".into()),
                DataRef::DateTimeIso("2024-03-01T00:00:00".into()),
                Cell::Text("2024-03-01".into()),
            ),
            (Data::DurationIso("PT1H".into()), DataRef::DurationIso("PT1H".into()), Cell::Text("PT1H".into())),
            (Data::Error(CellErrorType::NA), DataRef::Error(CellErrorType::NA), Cell::Error("#N/A".into())),
        ];
        for (data, data_ref, want) in &cases {
            assert_eq!(&converted(data), want, "{data:?}");
            assert_eq!(&converted(data_ref), want, "{data_ref:?}");
        }
        assert_eq!(converted(&DataRef::SharedString("李四")), Cell::Text("李四".into()));
        // Fails to compile when calamine adds a variant, which the table above must then cover.
        for (data, _, _) in &cases {
            match data {
                Data::String(_)
                | Data::Empty
                | Data::Int(_)
                | Data::Float(_)
                | Data::Bool(_)
                | Data::DateTime(_)
                | Data::DateTimeIso(_)
                | Data::DurationIso(_)
                | Data::Error(_) => {}
            }
        }
    }
}
