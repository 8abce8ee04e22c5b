//! Throughput check, run by hand (not a test):
//!
//! ```text
//! cargo run --release -p bidui-agent --example read_csv -- --generate 1000000 /tmp/big.csv
//! cargo run --release -p bidui-agent --example read_csv -- /tmp/big.csv [公民身份号码]
//! ```
//!
//! Reads every row with `Source::next_row`, touching the text of every cell, and prints
//! rows per second. `--generate N PATH` writes a UTF-8 CSV of N rows and 7 columns first
//! (an .xlsx instead when PATH ends in .xlsx, identity numbers as text). Any source format
//! can be read.

use std::io::{BufWriter, Write};
use std::time::Instant;

use bidui_agent::source::{Row, Source, SourceSpec};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--generate") {
        let rows: u32 = args.get(1).and_then(|n| n.parse().ok()).expect("--generate N PATH");
        let path = args.get(2).expect("--generate N PATH");
        generate(rows, path);
        return;
    }
    let path = args.first().expect("usage: read_csv PATH [COLUMN] | --generate N PATH");
    let path = path.as_str();
    let started = Instant::now();
    let mut source = Source::open(&SourceSpec::new(path)).unwrap_or_else(|e| panic!("{e}"));
    let column = args.get(1).map(|h| source.column(h).unwrap_or_else(|e| panic!("{e}")));
    let mut row = Row::new();
    let (mut rows, mut errors, mut chars, mut id_chars) = (0u64, 0u64, 0usize, 0usize);
    while let Some(result) = source.next_row(&mut row) {
        match result {
            Ok(()) => {
                rows += 1;
                for c in 0..row.len() {
                    chars += row.text(c).len();
                }
                if let Some(c) = column {
                    id_chars += row.text(c).len();
                }
            }
            Err(e) => {
                errors += 1;
                if errors <= 5 {
                    eprintln!("{e}");
                }
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let mb = source.bytes_read() as f64 / 1e6;
    println!(
        "{rows} rows, {errors} errors, {chars} bytes of text ({id_chars} in the column) in {seconds:.3} s: \
          {:.0} rows/s, {:.0} MB/s ({:?})",
        rows as f64 / seconds,
        mb / seconds,
        source.encoding(),
    );
}

/// 7 columns like a household-registration extract.
fn generate(rows: u32, path: &str) {
    if path.ends_with(".xlsx") {
        // Generate the CSV lines, then copy them into a workbook.
        let csv = format!("{path}.tmp.csv");
        generate(rows, &csv);
        let mut source = Source::open(&SourceSpec::new(&csv)).unwrap();
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        for (c, h) in source.headers().iter().enumerate() {
            sheet.write_string(0, c as u16, h).unwrap();
        }
        for row in source.rows() {
            let row = row.unwrap();
            for c in 0..row.len() {
                sheet.write_string(row.number, c as u16, row.text(c)).unwrap();
            }
        }
        book.save(path).unwrap();
        std::fs::remove_file(&csv).unwrap();
        return;
    }
    let mut out = BufWriter::new(std::fs::File::create(path).expect("create"));
    writeln!(out, "公民身份号码,姓名,性别,出生日期,户籍地址,联系电话,状态").unwrap();
    let surnames = ["张", "王", "李", "赵", "陈", "黄", "欧阳", "阿依古丽·"];
    let given = ["伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军"];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for i in 0..rows {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let year = 1930 + x % 90;
        let month = 1 + (x >> 8) % 12;
        let day = 1 + (x >> 16) % 28;
        let name =
            format!("{}{}", surnames[(x >> 24) as usize % surnames.len()], given[(x >> 32) as usize % given.len()]);
        let sex = if (x >> 40).is_multiple_of(2) { "男" } else { "女" };
        let address = format!("广东省广州市增城区荔城街道府佑路{}号", (x >> 44) % 500 + 1);
        let address = if i % 50 == 0 { format!("\"{address}, {}室\"", (x >> 20) % 900 + 100) } else { address };
        writeln!(
            out,
            "440118{year}{month:02}{day:02}{:03}{},{name},{sex},{year}-{month:02}-{day:02},{address},138{:08},{}",
            (x >> 48) % 1000,
            "0123456789X".as_bytes()[(x >> 52) as usize % 11] as char,
            (x >> 12) % 100_000_000,
            if i % 97 == 0 { "死亡" } else { "正常" },
        )
        .unwrap();
    }
    out.flush().unwrap();
    println!("wrote {rows} rows to {path}");
}
