// The handler Clerk's webhook guide has each app team write (a Next.js route handler calling
// verifyWebhook), as a plain Node.js server: verify the delivery with @clerk/backend, answer 200,
// store nothing. One process, as a Next.js server runs.
//
//   PORT=0 TENANT_SECRETS='{"t0":"whsec_..."}' node server.mjs   -> prints "listening <port>"
import http from 'node:http';
import { verifyWebhook } from '@clerk/backend/webhooks';

const secrets = JSON.parse(process.env.TENANT_SECRETS ?? '{}');

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const tenant = req.url.split('/').pop();
  const signingSecret = secrets[tenant];
  if (req.method !== 'POST' || !signingSecret) {
    res.writeHead(404).end();
    return;
  }
  const request = new Request(`http://localhost${req.url}`, {
    method: 'POST',
    headers: req.headers,
    body: Buffer.concat(chunks),
  });
  try {
    const evt = await verifyWebhook(request, { signingSecret });
    res.writeHead(200, { 'content-type': 'text/plain' }).end(`ok ${evt.type}`);
  } catch (err) {
    res.writeHead(400, { 'content-type': 'text/plain' }).end('invalid signature');
  }
});

server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
