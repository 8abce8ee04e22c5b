//! Chinese names of departments, fields and identity-number error codes, as town staff
//! read them. Unknown names fall back to the name itself.

use bidui_core::api::Severity;

/// The Chinese name of a department (party), as the district calls it.
pub fn department(party: &str) -> &str {
    match party {
        "household" => "公安户籍",
        "social-security" => "人社社保",
        "medical-insurance" => "医保",
        "housing" => "住建住房",
        "assistance" => "民政救助",
        "petitions" => "信访",
        "service-records" => "武装部",
        "health" => "卫健",
        "statistics" => "统计",
        "veterans" => "退役军人事务局",
        other => other,
    }
}

/// The Chinese name of a field of the demo's mapping (`src/demo.rs`); rules can name their
/// own.
pub fn field(name: &str) -> &str {
    match name {
        "town" => "镇街",
        "category" => "优抚类别",
        "registry_status" => "状态",
        "phone" => "联系电话",
        "address" => "户籍地址",
        "household_status" => "户籍状态",
        "registered_address" => "户籍地址",
        "household_town" => "所属镇街",
        "insured_status" => "参保状态",
        "pension" => "养老金领取",
        "medical_type" => "参保类型",
        "medical_status" => "参保状态",
        "housing_type" => "住房类型",
        "housing_address" => "房屋地址",
        "assistance_type" => "救助类型",
        "assistance_town" => "所属镇街",
        "assistance_amount" => "月救助金额",
        "petition_demand" => "主要诉求",
        "petition_date" => "信访登记日期",
        "enlisted" => "入伍时间",
        "discharged" => "退伍时间",
        "branch" => "军种",
        "name" => "姓名",
        "sex" => "性别",
        "birth_date" => "出生日期",
        other => other,
    }
}

pub fn severity(severity: Severity) -> &'static str {
    match severity {
        Severity::Serious => "严重",
        Severity::Normal => "一般",
        Severity::Notice => "提示",
    }
}

/// What an identity-number error code (`bidui_core::IdError::code`) means, and what to do.
pub fn invalid_id(code: &str) -> (&'static str, &'static str) {
    match code {
        "empty" => ("身份证号为空", "补录身份证号（以文本格式录入）"),
        "excel-mangled" => (
            "身份证号被Excel科学计数法或截断损坏，请以文本格式重新录入",
            "对照身份证或户口簿，将单元格设为文本格式后重新录入完整18位号码",
        ),
        "length" => ("身份证号位数不对（应为18位，旧号码为15位），可能多录或漏录了一位", "对照证件核对位数后重新录入"),
        "charset" => {
            ("身份证号含有非法字符（只能是数字，最后一位可为X），可能把0录成O、把1录成l", "对照证件更正错录的字符")
        }
        "birthdate" => ("身份证号中的出生日期不存在或晚于今天，可能有一位录错", "对照证件核对出生日期部分（第7–14位）"),
        "checksum" => ("身份证号最后一位校验码不符，号码中可能有一位录错", "对照证件逐位核对号码"),
        // Without the requester agent's local report (`report build --invalid-rows`) the
        // report knows only that the number failed, not why.
        _ => {
            ("身份证号未通过校验（本报告未附名册单位的本地校验报告，未列出具体原因）", "对照证件逐位核对并更正身份证号")
        }
    }
}
