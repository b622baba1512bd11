// A real OpenID provider (npm oidc-provider, certified) for Broker's tests, on loopback only.
// Started by tests/Broker.Tests/Infrastructure/OidcProviderHost.cs. Configuration is one JSON object,
// given as OIDC_PROVIDER_CONFIG (the JSON itself) or as argv[2] (the JSON, or a path to a JSON file):
//   { "port": 41234, "issuer": "http://127.0.0.1:41234",
//     "clients":  [{ "client_id", "client_secret", "redirect_uris": [], "post_logout_redirect_uris": [],
//                    "token_endpoint_auth_method"?: "client_secret_post" | "client_secret_basic" }],
//     "accounts": [{ "sub", "email", "name", "groups": [], "password"?, "emailVerified"? (default true) }] }
// Sign-in is one plain form (no script) at /interaction/<uid>: login = the account's email or sub, and the
// account's password when the config lists one. Consent is granted automatically: every client is first-party.
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Provider } from 'oidc-provider';

const raw = process.env.OIDC_PROVIDER_CONFIG || process.argv[2];
if (!raw) {
  console.error('usage: OIDC_PROVIDER_CONFIG=<json> node server.mjs   or   node server.mjs <json | config.json>');
  process.exit(2);
}
const config = JSON.parse(raw.trimStart().startsWith('{') ? raw : readFileSync(raw, 'utf8'));
const port = Number(config.port);
const issuer = (config.issuer || `http://127.0.0.1:${port}`).replace(/\/$/, '');
const accounts = config.accounts || [];

// A fresh RS256 key per run: tokens never outlive the process, and nothing secret is committed.
const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const signingKey = { ...privateKey.export({ format: 'jwk' }), kid: randomBytes(8).toString('hex'), use: 'sig', alg: 'RS256' };

const findByLogin = (login) => accounts.find((a) => a.sub === login || a.email?.toLowerCase() === login.toLowerCase());

const provider = new Provider(issuer, {
  clients: (config.clients || []).map((c) => ({
    token_endpoint_auth_method: 'client_secret_post', // what ASP.NET Core's OpenIdConnect handler sends
    grant_types: ['authorization_code'],
    response_types: ['code'],
    post_logout_redirect_uris: [],
    ...c,
  })),
  jwks: { keys: [signingKey] },
  cookies: { keys: [randomBytes(32).toString('hex')] },
  pkce: { required: () => true },
  scopes: ['openid', 'email', 'profile', 'groups'],
  // groups rides on profile too: the console asks for "openid profile email" and names operators by group.
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'groups'], groups: ['groups'] },
  // Scope claims go into the id_token itself (the default keeps them for userinfo only in the code flow).
  conformIdTokenClaims: false,
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: { enabled: true, logoutSource, postLogoutSuccessSource },
  },
  renderError: async (ctx, out) => { ctx.type = 'html'; ctx.body = page('Error', `<h1>Something went wrong</h1>${list(out)}`); },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  findAccount: (ctx, id) => {
    const account = accounts.find((a) => a.sub === id);
    return account && {
      accountId: account.sub,
      // emailVerified: false plays a provider that lets anyone claim any email (the invitation-takeover tests).
      claims: () => ({ sub: account.sub, email: account.email, email_verified: account.emailVerified !== false, name: account.name, groups: account.groups || [] }),
    };
  },
  ttl: { Session: 3600, Grant: 3600, Interaction: 600, AccessToken: 3600, IdToken: 3600, AuthorizationCode: 60 },
});

// Our own interaction pages, in front of the provider's routes.
provider.use(async (ctx, next) => {
  const match = /^\/interaction\/([^/]+)$/.exec(ctx.path);
  if (!match) return next();
  ctx.set('Cache-Control', 'no-store');
  const details = await provider.interactionDetails(ctx.req, ctx.res);
  if (details.uid !== match[1]) ctx.throw(400, 'interaction mismatch');

  if (details.prompt.name === 'consent') return grantConsent(ctx, details);
  if (details.prompt.name !== 'login') ctx.throw(400, `unsupported prompt ${details.prompt.name}`);
  if (ctx.method === 'GET') return showLogin(ctx, details);
  if (ctx.method !== 'POST') ctx.throw(405);

  const form = new URLSearchParams(await readBody(ctx.req));
  if (form.get('action') === 'cancel') {
    return finish(ctx, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' });
  }
  const account = findByLogin(form.get('login') || '');
  if (!account || (account.password != null && account.password !== form.get('password'))) {
    return showLogin(ctx, details, 'Unknown login or wrong password.');
  }
  return finish(ctx, { login: { accountId: account.sub } }, false);
});

async function grantConsent(ctx, details) {
  const { prompt: { details: missing }, params, session, grantId } = details;
  const grant = grantId ? await provider.Grant.find(grantId) : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
  if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes || {})) grant.addResourceScope(indicator, scopes.join(' '));
  return finish(ctx, { consent: { grantId: await grant.save() } });
}

async function finish(ctx, result, mergeWithLastSubmission = true) {
  const returnTo = await provider.interactionResult(ctx.req, ctx.res, result, { mergeWithLastSubmission });
  ctx.status = 303;
  ctx.redirect(returnTo);
}

function showLogin(ctx, details, error) {
  const people = accounts.map((a) => `<li><code>${esc(a.email || a.sub)}</code>${a.password == null ? '' : ` / <code>${esc(a.password)}</code>`}`
    + `${a.groups?.length ? ` (groups: ${esc(a.groups.join(', '))})` : ''}</li>`).join('');
  ctx.type = 'html';
  ctx.body = page('Sign in', `
    <h1>Sign in to ${esc(details.params.client_id)}</h1>
    ${error ? `<p class="error">${esc(error)}</p>` : ''}
    <form method="post" action="/interaction/${esc(details.uid)}">
      <label for="login">Email</label><input id="login" name="login" autocomplete="username" autofocus>
      <label for="password">Password</label><input id="password" type="password" name="password" autocomplete="current-password">
      <button type="submit" name="action" value="login">Sign in</button>
      <button type="submit" name="action" value="cancel" class="secondary">Cancel</button>
    </form>
    <p>Test accounts:</p><ul>${people}</ul>`);
}

async function logoutSource(ctx, form) {
  ctx.body = page('Sign out', `<h1>Sign out of ${esc(ctx.host)}?</h1>${form}
    <button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
    <button type="submit" form="op.logoutForm" class="secondary">No, stay signed in</button>`);
}

async function postLogoutSuccessSource(ctx) {
  ctx.body = page('Signed out', '<h1>Signed out</h1><p>You have been signed out.</p>');
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => { body += chunk; if (body.length > 65536) reject(new Error('form too large')); });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function page(title, body) {
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title><style>
    body{font-family:system-ui,sans-serif;background:#f4f4f4;margin:0} main{max-width:420px;margin:40px auto;background:#fff;padding:28px;border-radius:8px}
    .banner{background:#6b3fa0;color:#fff;padding:10px 24px;font-size:14px} label{display:block;margin:12px 0 4px}
    input{width:100%;box-sizing:border-box;padding:8px} button{width:100%;padding:10px;margin-top:12px;background:#3e6ae1;color:#fff;border:0;border-radius:4px}
    button.secondary{background:#e2e3e3;color:#171a20} .error{background:#fdecea;color:#b3261e;padding:8px}</style></head>
    <body><div class="banner">Test OpenID provider (oidc-provider) — for automated tests only</div><main>${body}</main></body></html>`;
}

const list = (out) => Object.entries(out).map(([k, v]) => `<p><strong>${esc(k)}</strong>: ${esc(v)}</p>`).join('');
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

provider.on('server_error', (ctx, err) => console.error('server_error', err));
const server = provider.listen(port, '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
server.on('error', (err) => { console.error(`cannot listen on 127.0.0.1:${port}: ${err.message}`); process.exit(3); });
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
