#!/usr/bin/env node
// certd's own code, unchanged (@certd/plugin-lib 1.37.1's AliyunSslClient), against livecert on the
// official hostnames, then the binding as certd's deploy-to-live plugin makes it: @alicloud/openapi-client
// `callApi` (ACS3, parameters in the query) SetLiveDomainCertificate CertType=cas with the CertId.
//
// Usage (inside a namespace where cas.aliyuncs.com and live.aliyuncs.com reach livecert, with
// NODE_EXTRA_CA_CERTS naming its CA): node certd.mjs --domain D --cert chain.pem --key key.pem --name N
// with ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET in the environment.
// Prints one JSON object (what it observed) on stdout; exits 1 on any unexpected outcome.
import fs from 'node:fs';
import { AliyunSslClient } from '@certd/plugin-lib';
import openapi from '@alicloud/openapi-client';
import teaUtil from '@alicloud/tea-util';

const { Config, Params, OpenApiRequest } = openapi;
const OpenApiClient = openapi.default;
const { RuntimeOptions } = teaUtil;

const args = {};
for (let i = 2; i + 1 < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const access = {
  accessKeyId: process.env.ALIBABA_CLOUD_ACCESS_KEY_ID,
  accessKeySecret: process.env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
};
const quiet = { info() {}, warn() {}, error() {}, debug() {} };

async function main() {
  const out = {};
  const ssl = new AliyunSslClient({ access, logger: quiet });
  const certId = await ssl.uploadCert({
    name: args.name,
    cert: { crt: fs.readFileSync(args.cert, 'utf8'), key: fs.readFileSync(args.key, 'utf8') },
  });
  out.certId = certId;
  out.info = await ssl.getCertInfo(certId);

  const live = new OpenApiClient(new Config({ ...access, endpoint: 'live.aliyuncs.com' }));
  const params = new Params({
    action: 'SetLiveDomainCertificate', version: '2016-11-01', protocol: 'HTTPS', pathname: '/',
    method: 'POST', authType: 'AK', style: 'RPC', reqBodyType: 'formData', bodyType: 'json',
  });
  const query = {
    DomainName: args.domain, CertName: out.info.certName, CertType: 'cas', SSLProtocol: 'on', CertId: String(certId),
  };
  const res = await live.callApi(params, new OpenApiRequest({ query }), new RuntimeOptions({}));
  out.bind = res.body;
  try {
    await ssl.deleteCert(certId);
    out.deleteWhileBound = 'deleted';
  } catch (e) {
    out.deleteWhileBound = String(e.message || e);
  }
  console.log(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
