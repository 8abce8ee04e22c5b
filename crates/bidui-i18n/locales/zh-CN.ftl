# bidui 命令行的中文信息（默认语言）。键与 en.ftl 一一对应，变量相同。

## 通用

error = 错误：{ $message }
error-cause = 原因：{ $message }
none = 无
writing = 写入 { $path }
starting-runtime = 启动异步运行时

## 代理（agent）

agent-keys-written = 代理密钥已写入 { $dir }（权限 0600）。请把上面两个公钥交给密钥管理员。
agent-in-job = 代理 { $party } 执行任务 { $job }
agent-report-head = 代理 { $party } — 任务 { $job }，比对服务 { $matcher }
agent-report-purpose = 用途：{ $purpose }［{ $approval }］
agent-report-sent = 读取 { $rows } 行；以令牌发送 { $records } 条记录（发送 { $chunks } 个数据块，{ $held } 个已在比对服务）
agent-report-attributes = 以令牌比对的属性：{ $attributes }
agent-report-invalid = 无效身份证号（只发送计数）：{ $counts }
agent-report-sealed = 随每条记录封存给请求方的字段：{ $fields }
agent-report-refused = 拒绝：{ $field } — { $reason }
agent-report-too-long = 过长无法封存的值（按行列在本地报告中）：{ $count }
agent-report-invalid-rows = 无效行本地报告（从不发送）：{ $path }
agent-report-results = 已为请求方打开的结果（本地）：{ $path }
agent-report-unopened = 警告：{ $count } 个封存值未能打开：比对服务转发了不在本名册中的人员的值，或数据已损坏；已丢弃
agent-key-not-hex = 公钥须为十六进制，即 `bidui agent init` 打印的形式
not-a-date = { $text } 不是日期（YYYY-MM-DD）

## 比对服务（matcher）

enrolled = 已登记 { $role } { $name }
enrolled-replacing = 已登记 { $role } { $name }（取代其先前的登记）
already-enrolled = { $role } { $name } 已用此密钥登记
custodian-key-not-hex = 公钥须为十六进制，即 `bidui keys init` 打印的形式
custodian-trusted = 比对服务现接受此密钥管理员签署的登记、撤销和封存密钥期
revoked = 已撤销 { $name }：其请求自即刻起一律拒绝
backed-up = 已将 { $db } 备份到 { $to }（权限 0600）。恢复方法：停止比对服务，把备份复制到数据库路径，删除旁边的 -wal 和 -shm 文件，再启动比对服务
database-created = 已新建空的比对服务数据库 { $db }
opening-log = 打开日志文件 { $path }

## 任务（job）

creating-job = 创建任务 { $job }
job-created = 任务 { $job } 已创建
job-exists = 任务 { $job } 已存在（规格相同）
job-results-written = 已将任务 { $job } 的匹配结构写入 { $path }（名册 { $rows } 行）；比对报告由请求方代理用封存给它的值生成（bidui report build）

## 密钥（keys）

epoch-written = 密钥期（{ $suite }）已写入 { $path }（权限 0600）。此文件是机密：只能交给各代理，绝不能交给比对服务。
