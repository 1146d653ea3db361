// Independent reader for the sink tests: DuckDB (npm @duckdb/node-api) reads
// the Parquet files the Go writer produced and prints what it sees as JSON.
//
// usage: node duckdb_check.js <dir> [<sql file>]
//   <dir>       root under which **/*.parquet are read
//   <sql file>  optional query whose "{{files}}" placeholder is replaced by
//               the read_parquet glob; its rows are returned as "query".
'use strict';
const fs = require('fs');
const { DuckDBInstance } = require('@duckdb/node-api');

function plain(v) {
  if (typeof v === 'bigint') return Number(v);
  if (v !== null && typeof v === 'object' && 'toString' in v && !Array.isArray(v)) return String(v);
  return v;
}

async function rows(conn, sql) {
  const reader = await conn.runAndReadAll(sql);
  return reader.getRowObjects().map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, plain(v)])));
}

async function main() {
  const [dir, sqlFile] = process.argv.slice(2);
  if (!dir) throw new Error('usage: node duckdb_check.js <dir> [<sql file>]');
  const glob = `${dir.replace(/'/g, "''")}/**/*.parquet`;
  const files = `read_parquet('${glob}', hive_partitioning = true)`;
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const out = {};
  const [c] = await rows(conn,
    `SELECT count(*) AS n, count(DISTINCT (doc_id, chunk_index)) AS distinct_chunks,
            count(DISTINCT filename) AS files, sum(length(text)) AS text_chars
       FROM read_parquet('${glob}', filename = true, hive_partitioning = true)`);
  out.count = c;
  out.schema = await rows(conn, `SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM ${files})`);
  out.parquet_schema = await rows(conn,
    `SELECT DISTINCT name, type, converted_type, logical_type::VARCHAR AS logical_type
       FROM parquet_schema('${glob}') WHERE num_children IS NULL ORDER BY name`);
  out.codecs = (await rows(conn,
    `SELECT DISTINCT compression FROM parquet_metadata('${glob}')`)).map((r) => r.compression);
  out.row_groups = (await rows(conn,
    `SELECT count(DISTINCT (file_name, row_group_id)) AS n FROM parquet_metadata('${glob}')`))[0].n;
  if (sqlFile) {
    const sql = fs.readFileSync(sqlFile, 'utf8').replaceAll('{{files}}', files);
    out.query = await rows(conn, sql);
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => { console.error(e && e.stack || String(e)); process.exit(1); });
