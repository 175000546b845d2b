// AWS SDK for JavaScript v3 client for the e2e suite (run by clients_test.go).
//
// usage: node js_transfer.cjs BUCKET SMALL_FILE BIG_FILE
//
// Default settings: CRC32 checksums; a Buffer body gets a CRC32 header, a
// stream body goes as aws-chunked with a CRC32 trailer
// (STREAMING-UNSIGNED-PAYLOAD-TRAILER) even over plain http. lib-storage's
// Upload sends the big file as a multipart upload. Prints one JSON object:
// the SHA-256 of every object as read back, and what the SDK reported.
"use strict";
const fs = require("node:fs");
const crypto = require("node:crypto");
const { S3Client, CreateBucketCommand, PutObjectCommand, GetObjectCommand, HeadObjectCommand } = require("@aws-sdk/client-s3");
const { Upload } = require("@aws-sdk/lib-storage");

async function sha256Of(stream) {
  const h = crypto.createHash("sha256");
  for await (const chunk of stream) h.update(chunk);
  return h.digest("hex");
}

async function main() {
  const [bucket, small, big] = process.argv.slice(2);
  const s3 = new S3Client({
    endpoint: process.env.E2E_ENDPOINT,
    region: process.env.E2E_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: process.env.E2E_ACCESS_KEY, secretAccessKey: process.env.E2E_SECRET_KEY },
  });
  const out = { sha256: {} };
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));

  const put = await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "buffer.bin", Body: fs.readFileSync(small) }));
  out.buffer_crc32 = put.ChecksumCRC32 || "";

  const size = fs.statSync(small).size;
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "stream.bin", Body: fs.createReadStream(small), ContentLength: size }));

  const up = new Upload({
    client: s3,
    params: { Bucket: bucket, Key: "multipart.bin", Body: fs.createReadStream(big) },
    partSize: 5 * 1024 * 1024,
    queueSize: 3,
  });
  const done = await up.done();
  out.multipart_etag = done.ETag || "";

  for (const key of ["buffer.bin", "stream.bin", "multipart.bin"]) {
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    out.sha256[key] = await sha256Of(got.Body);
  }
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: "multipart.bin" }));
  out.multipart_size = head.ContentLength;
  console.log(JSON.stringify(out));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
