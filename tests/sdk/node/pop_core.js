#!/usr/bin/env node
// The scenario through @alicloud/pop-core 1.8.0 (RPCClient): HMAC-SHA1 (V1) signing, either GET
// with every parameter in the query (its default) or POST with every parameter, Signature
// included, in an application/x-www-form-urlencoded body.
//
// Usage: node pop_core.js --method GET|POST --endpoint 127.0.0.1:PORT --domain D
//          --missing-domain M --cert-name N --cert chain.pem --key key.pem
//          --not-after yyyy-MM-ddTHH:mm:ssZ
// with ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET in the environment.
// Prints one JSON object (what it observed) on stdout; exits 1 on any unexpected outcome.
'use strict';

const fs = require('fs');
const path = require('path');
const RPCClient = require('@alicloud/pop-core').RPCClient;

// Error codes the scenario provokes and the HTTP status livecert must answer with.
const EXPECTED_ERRORS = {
  set_bogus_ssl_protocol: ['InvalidSSLProtocol.ValueNotSupported', 400],
  info_unknown_domain: ['IllegalOperationDomain', 400],
  detail_unknown_cert_name: ['CertNameNotFound', 404],
  wrong_secret: ['SignatureDoesNotMatch', 400],
};

// Generous: the server under test may be a debug build on a busy machine (pop-core's default is 3 s).
const TIMEOUT_MS = 60000;

class Unexpected extends Error {}

function parseArgs(argv) {
  const names = ['method', 'endpoint', 'domain', 'missing-domain', 'cert-name', 'cert', 'key', 'not-after'];
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i].replace(/^--/, '');
    if (!names.includes(name) || i + 1 >= argv.length) {
      usage(`unexpected argument ${argv[i]}`);
    }
    args[name] = argv[i + 1];
  }
  for (const name of names) {
    if (args[name] === undefined) usage(`--${name} is required`);
  }
  if (args.method !== 'GET' && args.method !== 'POST') usage('--method is GET or POST');
  for (const name of ['ALIBABA_CLOUD_ACCESS_KEY_ID', 'ALIBABA_CLOUD_ACCESS_KEY_SECRET']) {
    if (!process.env[name]) usage(`${name} must be set`);
  }
  args.accessKeyId = process.env.ALIBABA_CLOUD_ACCESS_KEY_ID;
  args.accessKeySecret = process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET;
  args.sslPub = fs.readFileSync(args.cert, 'utf8');
  args.sslPri = fs.readFileSync(args.key, 'utf8');
  return args;
}

function usage(message) {
  process.stderr.write(`${path.basename(process.argv[1])}: ${message}\n`);
  process.exit(2);
}

function expect(condition, message) {
  if (!condition) throw new Unexpected(message);
}

function expectEq(what, got, want) {
  if (JSON.stringify(got) !== JSON.stringify(want)) {
    throw new Unexpected(`${what}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }
}

function client(args, secret) {
  return new RPCClient({
    accessKeyId: args.accessKeyId,
    accessKeySecret: secret,
    endpoint: `http://${args.endpoint}`,
    apiVersion: '2016-11-01',
  });
}

function requester(rpc, method) {
  // GET is pop-core's default: pass no method for it.
  const opts = method === 'POST' ? { method: 'POST', timeout: TIMEOUT_MS } : { timeout: TIMEOUT_MS };
  return (action, params) => rpc.request(action, params, Object.assign({}, opts));
}

async function expectError(name, call) {
  try {
    await call();
  } catch (err) {
    if (err instanceof Unexpected || !err.data) throw err;
    const status = err.entry && err.entry.response ? err.entry.response.statusCode : null;
    const [wantCode, wantStatus] = EXPECTED_ERRORS[name];
    expectEq(`error ${name}: Code`, err.code, wantCode);
    expectEq(`error ${name}: HTTP status`, status, wantStatus);
    return { Code: err.code, HttpStatus: status, RequestId: err.data.RequestId, Message: err.data.Message };
  }
  throw new Unexpected(`${name}: the call succeeded; an error was expected`);
}

async function scenario(args) {
  const call = requester(client(args, args.accessKeySecret), args.method);
  const out = { sdk: '@alicloud/pop-core 1.8.0', scheme: 'HMAC-SHA1', method: args.method };
  const setParams = (protocol) => ({
    DomainName: args.domain,
    SSLProtocol: protocol,
    CertType: 'upload',
    CertName: args['cert-name'],
    SSLPub: args.sslPub,
    SSLPri: args.sslPri,
  });

  out.add_domain = await call('AddLiveDomain', {
    DomainName: args.domain,
    LiveDomainType: 'liveVideo',
    Region: 'cn-shanghai',
  });
  expect(out.add_domain.RequestId, 'AddLiveDomain: no RequestId');

  out.set_certificate = await call('SetLiveDomainCertificate', setParams('on'));
  expect(out.set_certificate.RequestId, 'SetLiveDomainCertificate: no RequestId');

  let body = await call('DescribeLiveDomainCertificateInfo', { DomainName: args.domain });
  const infos = (body.CertInfos && body.CertInfos.CertInfo) || [];
  expectEq('number of CertInfo entries', infos.length, 1);
  const info = infos[0];
  expectEq('CertInfo.DomainName', info.DomainName, args.domain);
  expectEq('CertInfo.CertName', info.CertName, args['cert-name']);
  expectEq('CertInfo.SSLProtocol', info.SSLProtocol, 'on');
  expectEq('CertInfo.CertExpireTime', info.CertExpireTime, args['not-after']);
  expect((info.SSLPub || '').includes('BEGIN CERTIFICATE'), `CertInfo.SSLPub holds no certificate: ${info.SSLPub}`);
  out.cert_info = info;

  body = await call('DescribeLiveCertificateList', {});
  const model = body.CertificateListModel || {};
  const certs = (model.CertList && model.CertList.Cert) || [];
  expectEq('CertificateListModel.Count', model.Count, certs.length);
  const mine = certs.filter((c) => c.CertName === args['cert-name']);
  expectEq(`entries named ${args['cert-name']} in CertList`, mine.length, 1);
  expect(Number.isInteger(mine[0].CertId), `CertId is not an integer: ${mine[0].CertId}`);
  body = await call('DescribeLiveCertificateList', { DomainName: args.domain });
  expectEq('CertList filtered by DomainName', body.CertificateListModel.CertList.Cert.map((c) => c.CertName), [args['cert-name']]);
  out.cert_list = { Count: model.Count, Cert: certs };

  const detail = await call('DescribeLiveCertificateDetail', { CertName: args['cert-name'] });
  expectEq('Detail.CertName', detail.CertName, args['cert-name']);
  expectEq('Detail.CertId', detail.CertId, mine[0].CertId);
  expect((detail.Cert || '').includes('BEGIN CERTIFICATE'), `Detail.Cert holds no certificate: ${detail.Cert}`);
  expect(!JSON.stringify(detail).includes('PRIVATE KEY'), 'DescribeLiveCertificateDetail returned a private key');
  out.cert_detail = detail;

  const errors = {};
  errors.set_bogus_ssl_protocol = await expectError('set_bogus_ssl_protocol', () =>
    call('SetLiveDomainCertificate', setParams('bogus')));
  errors.info_unknown_domain = await expectError('info_unknown_domain', () =>
    call('DescribeLiveDomainCertificateInfo', { DomainName: args['missing-domain'] }));
  errors.detail_unknown_cert_name = await expectError('detail_unknown_cert_name', () =>
    call('DescribeLiveCertificateDetail', { CertName: `${args['cert-name']}-missing` }));
  const wrong = requester(client(args, `${args.accessKeySecret}-wrong`), args.method);
  errors.wrong_secret = await expectError('wrong_secret', () =>
    wrong('DescribeLiveDomainCertificateInfo', { DomainName: args.domain }));
  out.errors = errors;
  return out;
}

function describe(err) {
  const parts = [String(err && err.stack ? err.stack : err)];
  for (const field of ['code', 'data', 'url']) {
    if (err && err[field] !== undefined) parts.push(`${field}=${JSON.stringify(err[field])}`);
  }
  if (err && err.entry) parts.push(`entry=${JSON.stringify(err.entry)}`);
  return parts.join('\n');
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  try {
    const out = await scenario(args);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exit(0);
  } catch (err) {
    const label = err instanceof Unexpected ? 'UNEXPECTED' : 'UNEXPECTED ERROR';
    process.stderr.write(`${path.basename(process.argv[1])} (${args.method}): ${label}: ${describe(err)}\n`);
    process.exit(1);
  }
}

main();
