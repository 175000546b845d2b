// The AWS SDK for JavaScript v3's createPresignedPost, sent the way a web page sends
// a form: Node's fetch with a FormData body (run by post_test.go).
//
// usage: node js_post.cjs BUCKET FILE
//
// Prints one JSON object: the status, ETag and body of the upload of FILE under
// "web/${filename}" as image/png (success_action_status 201), and the status and
// body of the same signed form with a Content-Type its policy does not allow.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const { S3Client } = require("@aws-sdk/client-s3");
const { createPresignedPost } = require("@aws-sdk/s3-presigned-post");

function form(fields, data, name) {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.append(k, v);
  f.append("file", new Blob([data], { type: fields["Content-Type"] }), name);
  return f;
}

async function main() {
  const [bucket, file] = process.argv.slice(2);
  const s3 = new S3Client({
    endpoint: process.env.E2E_ENDPOINT,
    region: process.env.E2E_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.E2E_ACCESS_KEY, secretAccessKey: process.env.E2E_SECRET_KEY },
  });
  const data = fs.readFileSync(file);
  const { url, fields } = await createPresignedPost(s3, {
    Bucket: bucket,
    Key: "web/${filename}",
    Conditions: [
      ["content-length-range", 1, data.length],
      ["starts-with", "$Content-Type", "image/"],
    ],
    Fields: { "Content-Type": "image/png", success_action_status: "201" },
    Expires: 600,
  });
  const resp = await fetch(url, { method: "POST", body: form(fields, data, path.basename(file)) });
  const out = { status: resp.status, etag: resp.headers.get("etag"), body: await resp.text() };
  const bad = await fetch(url, { method: "POST", body: form({ ...fields, "Content-Type": "text/html" }, data, "page.html") });
  out.bad_status = bad.status;
  out.bad_body = await bad.text();
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
