//! How listings print: aligned text columns for people, or with `--json` a JSON array of
//! objects, one per row, for scripts. A listing's row type says what it holds ([`Row`]); the
//! padding, the header and the JSON are done here, once.

use std::fmt::Display;

use serde::Serialize;

/// `--json` of a listing.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Format {
    /// Print a JSON array with an object per row instead of text columns, and nothing else:
    /// snake_case fields, RFC 3339 times, null where a value is absent.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// One text column: its title, the width its cells are padded to and how many spaces stand
/// before it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Column {
    title: &'static str,
    width: usize,
    align: Align,
    gap: usize,
}

impl Column {
    pub(super) const fn left(title: &'static str, width: usize) -> Self {
        Self {
            title,
            width,
            align: Align::Left,
            gap: 1,
        }
    }

    pub(super) const fn right(title: &'static str, width: usize) -> Self {
        Self {
            align: Align::Right,
            ..Self::left(title, width)
        }
    }

    /// The last column, unpadded so that lines carry no trailing spaces of its own.
    pub(super) const fn last(title: &'static str) -> Self {
        Self::left(title, 0)
    }

    /// `spaces` before this column instead of one.
    pub(super) const fn after(self, spaces: usize) -> Self {
        Self {
            gap: spaces,
            ..self
        }
    }
}

/// One row of a listing: its JSON object is the type's serialisation, its text the cells it
/// writes into [`Row::COLUMNS`].
pub(super) trait Row: Serialize {
    const COLUMNS: &'static [Column];

    /// Writes one cell per column, left to right.
    fn cells(&self, line: &mut Line);
}

/// A text line filled cell by cell.
#[derive(Debug)]
pub(super) struct Line {
    columns: &'static [Column],
    next: usize,
    text: String,
}

impl Line {
    fn new(columns: &'static [Column]) -> Self {
        Self {
            columns,
            next: 0,
            text: String::new(),
        }
    }

    /// Pads `value` through its own `Display`, as `format!("{:<8}", value)` does: a type whose
    /// `Display` ignores widths (`Uuid`) prints unpadded, as the listings always have.
    pub(super) fn cell(&mut self, value: impl Display) -> &mut Self {
        // A cell past the last column is a listing's mistake: print it unpadded, not lose it.
        let column = self
            .columns
            .get(self.next)
            .copied()
            .unwrap_or(Column::last(""));
        if self.next > 0 {
            self.text.extend(std::iter::repeat_n(' ', column.gap));
        }
        let width = column.width;
        let cell = match column.align {
            Align::Left => format!("{value:<width$}"),
            Align::Right => format!("{value:>width$}"),
        };
        self.text.push_str(&cell);
        self.next += 1;
        self
    }
}

fn header(columns: &'static [Column]) -> String {
    let mut line = Line::new(columns);
    for column in columns {
        line.cell(column.title);
    }
    line.text
}

fn text<R: Row>(row: &R) -> String {
    let mut line = Line::new(R::COLUMNS);
    row.cells(&mut line);
    line.text
}

/// Prints a listing of `R`: a JSON array with `--json`, otherwise a header and a line per row.
pub(super) fn print_rows<R: Row>(
    rows: impl IntoIterator<Item = impl Into<R>>,
    format: Format,
) -> anyhow::Result<()> {
    let rows: Vec<R> = rows.into_iter().map(Into::into).collect();
    if format.json {
        return print_json(&rows);
    }
    println!("{}", header(R::COLUMNS));
    for row in &rows {
        println!("{}", text(row));
    }
    Ok(())
}

/// Prints `value` as pretty JSON, for a command whose `--json` prints one object.
pub(super) fn print_json(value: &(impl Serialize + ?Sized)) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Sample {
        id: hookgate_store::Uuid,
        state: &'static str,
        tries: i32,
        error: Option<String>,
    }

    impl Row for Sample {
        const COLUMNS: &'static [Column] = &[
            Column::left("id", 38),
            Column::left("state", 8),
            Column::right("tries", 6),
            Column::last("error").after(2),
        ];

        fn cells(&self, line: &mut Line) {
            line.cell(self.id)
                .cell(self.state)
                .cell(self.tries)
                .cell(self.error.as_deref().unwrap_or(""));
        }
    }

    #[test]
    fn lines_are_padded_as_format_pads_them() {
        let row = Sample {
            id: hookgate_store::Uuid::nil(),
            state: "live",
            tries: 3,
            error: Some("refused".to_owned()),
        };
        assert_eq!(
            header(Sample::COLUMNS),
            format!("{:<38} {:<8} {:>6}  error", "id", "state", "tries")
        );
        assert_eq!(
            text(&row),
            format!("{:<38} {:<8} {:>6}  {}", row.id, "live", 3, "refused")
        );
        let empty = Sample { error: None, ..row };
        assert!(text(&empty).ends_with("     3  "), "{:?}", text(&empty));
    }
}
