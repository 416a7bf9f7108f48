#!/usr/bin/env node
// The certificate service through two Node clients, against a livecert listener:
// - @alicloud/cas20200407 3.0.0, the official SDK (ACS3-HMAC-SHA256, parameters in the query);
// - @alicloud/pop-core 1.8.0 as certd's AliyunSslClient calls it (V1 HMAC-SHA1, apiVersion
//   2020-04-07, POST with every parameter in a form body): UploadUserCertificate {Name, Cert, Key},
//   GetUserCertificateDetail {CertId} (reading Name, CertIdentifier, NotAfter),
//   DeleteUserCertificate {CertId}.
//
// With the official SDK: upload (CertId a number), detail (no key), list UPLOAD with paging, a
// Live binding by CertId (pop-core, the Live client in Node) that makes the delete refused, HTTPS
// off, then the delete allowed and the record gone.
//
// Usage: node cas.js --endpoint 127.0.0.1:PORT --cert chain.pem --key key.pem --domain D
// with ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET in the environment.
// Prints one JSON object (what it observed) on stdout; exits 1 on any unexpected outcome.
'use strict';

const fs = require('fs');
const Cas = require('@alicloud/cas20200407');
const { $OpenApiUtil } = require('@alicloud/openapi-core');
const RPCClient = require('@alicloud/pop-core').RPCClient;

function args() {
  const out = {};
  const argv = process.argv.slice(2);
  for (let i = 0; i + 1 < argv.length; i += 2) {
    out[argv[i].replace(/^--/, '')] = argv[i + 1];
  }
  for (const name of ['endpoint', 'cert', 'key', 'domain']) {
    if (!out[name]) {
      console.error(`missing --${name}`);
      process.exit(2);
    }
  }
  return out;
}

async function refused(call) {
  try {
    await call();
  } catch (e) {
    return { Code: e.code || (e.data && e.data.Code), HttpStatus: e.statusCode || (e.data && e.data.statusCode) };
  }
  throw new Error('a call that must be refused succeeded');
}

async function main() {
  const a = args();
  const cert = fs.readFileSync(a.cert, 'utf8');
  const key = fs.readFileSync(a.key, 'utf8');
  const id = process.env.ALIBABA_CLOUD_ACCESS_KEY_ID;
  const secret = process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
  const out = {};

  const sdk = new Cas.default(new $OpenApiUtil.Config({
    accessKeyId: id, accessKeySecret: secret, endpoint: a.endpoint, protocol: 'http', regionId: 'cn-hangzhou',
  }));
  const up = await sdk.uploadUserCertificate(new Cas.UploadUserCertificateRequest({ name: 'node-sdk', cert, key }));
  out.sdk_upload = up.body.toMap();
  const certId = up.body.certId;
  const detail = await sdk.getUserCertificateDetail(new Cas.GetUserCertificateDetailRequest({ certId }));
  out.sdk_detail = detail.body.toMap();
  await sdk.uploadUserCertificate(new Cas.UploadUserCertificateRequest({ name: 'node-sdk-2', cert, key }));
  const list = await sdk.listUserCertificateOrder(new Cas.ListUserCertificateOrderRequest({ orderType: 'UPLOAD', showSize: 10 }));
  out.sdk_list = list.body.toMap();
  const page2 = await sdk.listUserCertificateOrder(
    new Cas.ListUserCertificateOrderRequest({ orderType: 'UPLOAD', showSize: 1, currentPage: 2 }));
  out.sdk_page2 = page2.body.toMap();

  // Bound through Live (pop-core, V1): the delete is refused until HTTPS is off.
  const live = new RPCClient({
    accessKeyId: id, accessKeySecret: secret, endpoint: `http://${a.endpoint}`, apiVersion: '2016-11-01',
    opts: { timeout: 60000 },
  });
  const livePost = { method: 'POST', timeout: 60000 };
  await live.request('SetLiveDomainCertificate',
    { DomainName: a.domain, SSLProtocol: 'on', CertType: 'cas', CertId: String(certId) }, livePost);
  out.sdk_delete_bound = await refused(() => sdk.deleteUserCertificate(new Cas.DeleteUserCertificateRequest({ certId })));
  await live.request('SetLiveDomainCertificate', { DomainName: a.domain, SSLProtocol: 'off' }, livePost);
  await sdk.deleteUserCertificate(new Cas.DeleteUserCertificateRequest({ certId }));
  out.sdk_gone = await refused(() => sdk.getUserCertificateDetail(new Cas.GetUserCertificateDetailRequest({ certId })));

  // certd's AliyunSslClient: pop-core, POST, every parameter in the form body.
  const pop = new RPCClient({
    accessKeyId: id, accessKeySecret: secret, endpoint: `http://${a.endpoint}`, apiVersion: '2020-04-07',
    opts: { timeout: 60000 },
  });
  const post = { method: 'POST', formatParams: false, timeout: 60000 };
  const certd = await pop.request('UploadUserCertificate', { Name: 'certd-upload', Cert: cert, Key: key }, post);
  if (certd.Code != null) throw new Error(`a success carries Code ${certd.Code}`);
  out.certd_upload = certd;
  const info = await pop.request('GetUserCertificateDetail', { CertId: certd.CertId }, post);
  out.certd_detail = { Name: info.Name, CertIdentifier: info.CertIdentifier, NotAfter: info.NotAfter, Key: info.Key };
  const del = await pop.request('DeleteUserCertificate', { CertId: certd.CertId }, post);
  out.certd_delete = del;
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
