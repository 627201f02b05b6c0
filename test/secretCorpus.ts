/**
 * A labelled corpus for secret redaction: realistic lines that hold a credential, each with the
 * credential's text, and look-alikes that must come through unchanged. Every credential is
 * generated at run time by a seeded generator, so this source holds none (the repository forbids
 * secrets in commits, and scanners would flag a literal one); vendor prefixes and PEM headers are
 * split so that no scanner reads a whole token here.
 */
import { seededInts } from './helpers';

export interface SecretCase {
  name: string;
  text: string;
  /** Substrings that must not survive redaction. */
  secrets: string[];
  /** Substrings that must survive it (the name that held the secret). */
  keep?: string[];
}

export interface LookAlike {
  name: string;
  text: string;
}

const j = (...parts: string[]): string => parts.join('');

const LOWER = 'abcdefghijklmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const B62 = LOWER + UPPER + DIGITS;
const HEX = '0123456789abcdef';
const B64 = `${B62}+/`;
/** What a generator or a careless human puts in a password. */
const SYMBOLS = '!#%^*-_+=.~@$';
/** Words a placeholder detector may rightly keep: a generated secret must not contain them by chance. */
const PLACEHOLDERISH = /x{4}|todo|fake|dumm|exampl|sampl|redact|here$|change|your|fixme|\*{3}|\.{3}/i;

export function secretCorpus(seed = 20_261_202): { secrets: SecretCase[]; lookAlikes: LookAlike[] } {
  const int = seededInts(seed);
  const pick = (alphabet: string, n: number): string => {
    for (;;) {
      let s = '';
      for (let i = 0; i < n; i++) s += alphabet[int(alphabet.length)];
      // random credentials of some length have letters and digits both; keep the generated ones honest about it
      const letters = /[A-Za-z]/.test(alphabet) && n >= 4;
      const digits = /\d/.test(alphabet) && n >= 8;
      if ((!letters || /[A-Za-z]/.test(s)) && (!digits || /\d/.test(s)) && !PLACEHOLDERISH.test(s)) return s;
    }
  };
  const b62 = (n: number): string => pick(B62, n);
  const hex = (n: number): string => pick(HEX, n);
  const b64 = (n: number): string => pick(B64, n);
  const upnum = (n: number): string => pick(UPPER + DIGITS, n);
  const digits = (n: number): string => pick(DIGITS, n);
  /** A password: letters, digits and symbols, as generators make them. */
  const pw = (n = 16, symbols = SYMBOLS): string => {
    for (;;) {
      const s = pick(B62 + symbols + symbols, n);
      if (/[a-z]/.test(s) && /[A-Z]/.test(s) && /\d/.test(s) && /[^A-Za-z0-9]/.test(s) && !/^[-!*&@$]/.test(s)) return s;
    }
  };
  /** A password without symbols (unquoted alphanumeric values were a gap). */
  const alnum = (n = 16): string => b62(n);
  const base64 = (s: string): string => Buffer.from(s).toString('base64');
  const uuid = (): string => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`;
  const awsSecret = (): string => pick(`${B62}/+`, 40);
  const pemBody = (lines: number): string => Array.from({ length: lines }, (_, i) => (i === 0 ? j('MII', b64(61)) : b64(64))).join('\n');
  const pem = (label: string, lines = 6): { text: string; body: string } => {
    const body = pemBody(lines);
    return { text: j('-----BEGIN ', label, ' KEY-----\n', body, '\n-----END ', label, ' KEY-----'), body };
  };

  const secrets: SecretCase[] = [];
  const add = (name: string, text: string, secret: string | string[], keep?: string | string[]): void => {
    secrets.push({ name, text, secrets: Array.isArray(secret) ? secret : [secret], ...(keep ? { keep: Array.isArray(keep) ? keep : [keep] } : {}) });
  };

  // --- env files and shell ----------------------------------------------------------------
  let v = awsSecret();
  add('env: AWS_SECRET_ACCESS_KEY=…', `AWS_REGION=eu-west-1\nAWS_SECRET_ACCESS_KEY=${v}\n`, v, 'AWS_SECRET_ACCESS_KEY=');
  v = awsSecret();
  add('shell: export AWS_SECRET_ACCESS_KEY=…', `#!/bin/sh\nexport AWS_SECRET_ACCESS_KEY=${v}\naws s3 ls\n`, v, 'export AWS_SECRET_ACCESS_KEY=');
  v = alnum(18);
  add('env: DB_PASSWORD= unquoted alphanumeric', `DB_HOST=db.internal\nDB_PASSWORD=${v}\n`, v, 'DB_PASSWORD=');
  v = b62(32);
  add('env: single-quoted SESSION_SECRET', `SESSION_SECRET='${v}'\n`, v, 'SESSION_SECRET=');
  v = hex(32);
  add('env: *_API_KEY hex', `OPENWEATHER_API_KEY=${v}\n`, v, 'OPENWEATHER_API_KEY=');
  v = hex(64);
  add('env: hex HMAC seed', `HMAC_SEED=${v}\n`, v, 'HMAC_SEED=');
  v = b62(32);
  add('env: WEBHOOK_SIGNING_KEY = "…" (spaces)', `WEBHOOK_SIGNING_KEY = "${v}"\n`, v, 'WEBHOOK_SIGNING_KEY');
  v = pw(14);
  add('shell: inline PGPASSWORD=… psql', `PGPASSWORD=${v} psql -h db.internal -U app shop\n`, v, 'PGPASSWORD=');
  v = pw(14, '!#%^*-_+=.~');
  add('shell: --password=… flag', `mysqldump --user=backup --password=${v} --all-databases > dump.sql\n`, v, '--password=');
  v = b62(40);
  add('shell: --token value flag', `vault login --method=token --token ${v}\n`, v, '--token');
  v = b62(40);
  add('shell: curl bearer header', `curl -s -H "Authorization: Bearer ${v}" https://api.internal/v1/jobs\n`, v, 'Authorization: Bearer');
  v = pw(16);
  add('cmd: set DB_PASSWORD=…', `@echo off\nset DB_PASSWORD=${v}\ncall migrate.bat\n`, v, 'set DB_PASSWORD=');
  v = b62(32);
  add('powershell: $env:API_KEY = "…"', `$env:API_KEY = "${v}"\n`, v, '$env:API_KEY');
  v = b62(32);
  add('systemd: Environment="API_TOKEN=…"', `[Service]\nEnvironment="API_TOKEN=${v}"\nExecStart=/usr/bin/worker\n`, v, 'API_TOKEN=');
  v = j('xa', 'pp-1-A', upnum(10), '-', digits(13), '-', hex(64));
  add('env: Slack app token xapp-1-…', `SLACK_APP_TOKEN=${v}\n`, v);

  // --- YAML, Kubernetes, CI ----------------------------------------------------------------
  v = awsSecret();
  add('yaml: aws_secret_access_key: …', `default:\n  aws_access_key_id: ${j('AK', 'IA')}${upnum(16)}\n  aws_secret_access_key: ${v}\n`, v, 'aws_secret_access_key:');
  v = pw(16);
  add('yaml: nested password:', `database:\n  host: db.internal\n  password: ${v}\n`, v, 'password:');
  v = b62(32);
  add('yaml: quoted api_key', `service:\n  api_key: "${v}"\n`, v, 'api_key:');
  v = pw(16);
  add('k8s Secret data (base64)', `apiVersion: v1\nkind: Secret\ndata:\n  password: ${base64(v)}\n`, base64(v), 'password:');
  v = pw(16);
  add('k8s Secret stringData', `kind: Secret\nstringData:\n  DB_PASSWORD: "${v}"\n`, v, 'DB_PASSWORD:');
  v = pw(16);
  add('k8s env name/value pair', `env:\n  - name: DB_PASSWORD\n    value: "${v}"\n`, v, 'DB_PASSWORD');
  v = alnum(20);
  add('k8s env name/value pair, unquoted', `        env:\n        - name: STRIPE_SECRET\n          value: ${v}\n`, v, 'STRIPE_SECRET');
  v = pw(16);
  add('docker-compose environment list', `services:\n  db:\n    environment:\n      - POSTGRES_PASSWORD=${v}\n`, v, 'POSTGRES_PASSWORD=');
  v = b62(36);
  add('GitHub Actions env literal', `jobs:\n  publish:\n    env:\n      NPM_AUTH_TOKEN: ${v}\n`, v, 'NPM_AUTH_TOKEN:');
  v = pw(16);
  add('Spring application.yml datasource', `spring:\n  datasource:\n    username: app\n    password: ${v}\n`, v, 'password:');
  v = b64(1200).replace(/\n/g, '');
  add('kubeconfig client-key-data', `users:\n- name: admin\n  user:\n    client-key-data: ${v}\n`, v, 'client-key-data:');
  v = pw(14);
  add('Helm values rootPassword', `auth:\n  rootPassword: ${v}\n`, v, 'rootPassword:');
  v = pw(14);
  add('Ansible become password', `ansible_become_password: ${v}\n`, v, 'ansible_become_password:');

  // --- TOML, INI, .properties -------------------------------------------------------------
  v = pw(16);
  add('toml: password = "…"', `[database]\nuser = "app"\npassword = "${v}"\n`, v, 'password =');
  v = b62(32);
  add('toml: registry token', `[registry]\ntoken = "${v}"\n`, v, 'token =');
  v = alnum(16);
  add('ini: my.cnf password = …', `[client]\nuser = backup\npassword = ${v}\n`, v, 'password =');
  v = pw(16);
  add('.properties: spring.datasource.password=…', `spring.datasource.url=jdbc:postgresql://db:5432/app\nspring.datasource.password=${v}\n`, v, 'spring.datasource.password=');
  v = pw(14);
  add('.properties: spaced mail.smtp.password = …', `mail.smtp.password = ${v}\n`, v, 'mail.smtp.password');
  v = b62(48);
  add('.properties: jwt.secret=…', `jwt.secret=${v}\njwt.expiration=3600\n`, v, 'jwt.secret=');

  // --- JSON ---------------------------------------------------------------------------------
  v = b62(32);
  add('json: "apiKey": "…"', JSON.stringify({ service: 'maps', apiKey: v }, null, 2), v, '"apiKey"');
  v = b62(40);
  add('json: OAuth client_secret', JSON.stringify({ web: { client_id: `${digits(12)}-${b62(20)}.apps.example`, client_secret: v } }, null, 2), v, '"client_secret"');
  v = hex(40);
  add('json: GCP private_key_id', JSON.stringify({ type: 'service_account', project_id: 'shop-prod', private_key_id: v }, null, 2), v, '"private_key_id"');
  let key = pem(j('PRI', 'VATE'), 12);
  add('json: GCP private_key (escaped newlines)', JSON.stringify({ private_key_id: 'k1', private_key: `${key.text}\n` }), JSON.stringify(key.body).slice(1, 40), '"private_key"');
  v = pw(12);
  add('json: docker config auth', JSON.stringify({ auths: { 'registry.internal': { auth: base64(`ci:${v}`) } } }), base64(`ci:${v}`), '"auth"');
  v = pw(16, '!#%^*-_+=.~');
  add('json: SQL Server connection string Password=…;', JSON.stringify({ ConnectionStrings: { Default: `Server=sql.internal;Database=shop;User Id=app;Password=${v};` } }, null, 2), v, 'Password=');
  v = b62(32);
  add('json: package.json-style config token', `{\n  "publishConfig": { "registry": "https://npm.internal/" },\n  "config": { "deployToken": "${v}" }\n}\n`, v, '"deployToken"');

  // --- Dockerfile ---------------------------------------------------------------------------
  v = awsSecret();
  add('Dockerfile: ENV AWS_SECRET_ACCESS_KEY … (space form)', `FROM python:3.12-slim\nENV AWS_SECRET_ACCESS_KEY ${v}\n`, v, 'ENV AWS_SECRET_ACCESS_KEY');
  v = pw(16);
  add('Dockerfile: ENV DB_PASSWORD=…', `FROM node:20\nENV NODE_ENV=production DB_PASSWORD=${v}\n`, v, 'DB_PASSWORD=');
  v = b62(40);
  add('Dockerfile: ARG GITHUB_TOKEN=…', `ARG GITHUB_TOKEN=${v}\nRUN git clone https://github.com/org/private.git\n`, v, 'ARG GITHUB_TOKEN=');

  // --- connection strings and URLs ----------------------------------------------------------
  v = j(b62(3), '$$', b62(3), 'w0', b62(3));
  add('url: postgresql://user:pa$$…@host', `DATABASE_URL=postgresql://app:${v}@db.internal:5432/shop\n`, v, 'postgresql://app:');
  v = pw(16, '!*-_.~');
  add('url: mysql://root:…@host', `const url = "mysql://root:${v}@127.0.0.1:3306/app";\n`, v, 'mysql://root:');
  v = alnum(20);
  add('url: mongodb+srv://…', `MONGO_URI="mongodb+srv://svc:${v}@cluster0.a1b2c.mongodb.net/prod?retryWrites=true"\n`, v, 'mongodb+srv://svc:');
  v = alnum(24);
  add('url: redis://:password@host (no user)', `REDIS_URL=redis://:${v}@cache.internal:6379/0\n`, v, 'redis://:');
  v = pw(16, '!*-_.~');
  add('url: amqp://…', `broker_url = "amqp://worker:${v}@rabbit.internal:5672//"\n`, v, 'amqp://worker:');
  v = j(b62(5), '@', b62(4), '#', digits(3));
  add('url: https basic auth, @ and # in the password', `pip install --index-url https://deploy:${v}@pypi.internal/simple pkg\n`, v, 'https://deploy:');
  v = b62(40);
  add('url: git remote with an oauth2 token', `git remote add origin https://oauth2:${v}@gitlab.internal/group/repo.git\n`, v, 'https://oauth2:');
  v = pw(14, '!*-_.~');
  add('JDBC URL ?password=…&', `jdbc.url=jdbc:postgresql://db:5432/app?user=app&password=${v}&ssl=true\n`, v, 'password=');
  v = pw(14, '!*-_.~');
  add('JDBC SQL Server ;password=…;', `String url = "jdbc:sqlserver://db:1433;databaseName=app;user=sa;password=${v};encrypt=true";\n`, v, 'password=');
  v = pw(14, '!*-_.~');
  add('ODBC Pwd=…;', `conn = pyodbc.connect("Driver={ODBC Driver 18 for SQL Server};Server=tcp:db,1433;Uid=app;Pwd=${v};")\n`, v, 'Pwd=');
  v = `${b64(86)}==`;
  add('Azure storage connection string AccountKey=…', `AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=https;AccountName=shopdata;AccountKey=${v};EndpointSuffix=core.windows.net"\n`, v, 'AccountKey=');
  v = pw(14, '!*-_.~');
  add('libpq keyword/value connection string', `conn = psycopg.connect("host=db.internal port=5432 dbname=shop user=app password=${v} sslmode=require")\n`, v, 'password=');
  v = pw(16, '!*-_.~');
  add('C# connection string literal', `var cs = "Server=db;Database=app;User Id=sa;Password=${v};TrustServerCertificate=True";\n`, v, 'Password=');

  // --- code ---------------------------------------------------------------------------------
  v = pw(50, '!@#%^&*(-_=+)');
  add('python: Django SECRET_KEY', `# settings.py\nSECRET_KEY = '${v}'\nDEBUG = False\n`, v, 'SECRET_KEY =');
  v = b62(32);
  add('python: api_key="…" keyword argument', `client = WeatherClient(api_key="${v}", timeout=10)\n`, v, 'api_key=');
  v = hex(32);
  add('python: headers dict X-Api-Key', `headers = {"Accept": "application/json", "X-Api-Key": "${v}"}\n`, v, '"X-Api-Key"');
  v = b62(32);
  add('python: os.environ.setdefault("API_TOKEN", "…")', `os.environ.setdefault("API_TOKEN", "${v}")\n`, v, '"API_TOKEN"');
  v = pw(16);
  add('python: psycopg2.connect(password="…")', `conn = psycopg2.connect(host="db", user="app", password="${v}")\n`, v, 'password=');
  v = pw(16);
  add('python: Django DATABASES dict', `DATABASES = {"default": {"ENGINE": "django.db.backends.postgresql", "PASSWORD": "${v}"}}\n`, v, '"PASSWORD"');
  v = hex(64);
  add('python: hmac.new(b"<hex seed>")', `digest = hmac.new(b"${v}", body, hashlib.sha256).hexdigest()\n`, v, 'hmac.new(');
  v = b62(40);
  add('ts: const sessionSecret = "…"', `const sessionSecret = "${v}";\napp.use(session({ secret: sessionSecret }));\n`, v, 'sessionSecret');
  v = pw(16);
  add('ts: object literal password', `export const config = { user: 'app', password: '${v}', port: 5432 };\n`, v, 'password:');
  v = b62(32);
  add('ts: typed const apiKey: string = "…"', `const apiKey: string = "${v}";\n`, v, 'apiKey');
  v = b62(40);
  add('ts: fetch with a literal bearer token', `await fetch(url, { headers: { Authorization: "Bearer ${v}" } });\n`, v, 'Bearer');
  v = hex(64);
  add('ts: crypto.createHmac with a hex key', `const sig = crypto.createHmac('sha256', '${v}').update(body).digest('hex');\n`, v, 'createHmac');
  v = hex(64);
  add('ts: hex seed in Buffer.from', `const seed = Buffer.from('${v}', 'hex');\n`, v, 'const seed');
  v = b62(32);
  add('go: apiKey := "…"', `func main() {\n\tapiKey := "${v}"\n\tclient := api.New(apiKey)\n}\n`, v, 'apiKey :=');
  v = pw(16);
  add('go: struct literal Password: "…",', `cfg := mysql.Config{\n\tUser:     "app",\n\tPassword: "${v}",\n}\n`, v, 'Password:');
  v = hex(64);
  add('go: var hmacKey = []byte("…")', `var hmacKey = []byte("${v}")\n`, v, 'hmacKey');
  v = pw(16);
  add('java: static final DB_PASSWORD', `private static final String DB_PASSWORD = "${v}";\n`, v, 'DB_PASSWORD =');
  v = pw(16);
  add('java: props.put("password", "…")', `props.put("user", "app");\nprops.put("password", "${v}");\n`, v, '"password"');
  v = b62(32);
  add('java: new SecretKeySpec("…".getBytes())', `SecretKeySpec spec = new SecretKeySpec("${v}".getBytes(), "HmacSHA256");\n`, v, 'SecretKeySpec');
  v = b62(32);
  add('c#: private const string ApiKey', `private const string ApiKey = "${v}";\n`, v, 'ApiKey =');
  v = pw(16);
  add('c#: SetEnvironmentVariable("DB_PASSWORD", "…")', `Environment.SetEnvironmentVariable("DB_PASSWORD", "${v}");\n`, v, '"DB_PASSWORD"');
  v = b62(32);
  add('kotlin: val clientSecret: String = "…"', `val clientSecret: String = "${v}"\n`, v, 'clientSecret');
  v = hex(128);
  add('ruby: secret_key_base', `Rails.application.configure do\n  config.secret_key_base = "${v}"\nend\n`, v, 'secret_key_base =');
  v = pw(16);
  add("php: define('DB_PASSWORD', '…')", `<?php\ndefine('DB_PASSWORD', '${v}');\n`, v, "'DB_PASSWORD'");
  v = pw(16);
  add("php: array 'password' => '…'", `return [\n    'username' => 'app',\n    'password' => '${v}',\n];\n`, v, "'password' =>");
  v = b62(32);
  add('rust: let api_token = "…"', `let api_token = "${v}";\n`, v, 'api_token');
  v = pw(16);
  add("sql: CREATE USER … PASSWORD '…'", `CREATE USER app WITH PASSWORD '${v}';\n`, v, 'PASSWORD');
  v = alnum(16);
  add('netrc lines in a setup script', `cat > ~/.netrc <<EOF\nmachine api.internal login deploy password ${v}\nEOF\n`, v, 'password');

  // --- Terraform, XML -------------------------------------------------------------------------
  v = pw(16);
  add('terraform: password = "…" in a resource', `resource "aws_db_instance" "main" {\n  username = "app"\n  password = "${v}"\n}\n`, v, 'password =');
  v = pw(16);
  add('terraform: variable default', `variable "db_password" {\n  type    = string\n  default = "${v}"\n}\n`, v, 'variable "db_password"');
  v = pw(16);
  add('xml: Maven settings <password>', `<server>\n  <id>internal</id>\n  <username>deploy</username>\n  <password>${v}</password>\n</server>\n`, v, '<password>');
  v = b62(32);
  add('xml: web.config appSettings key/value', `<appSettings>\n  <add key="ApiKey" value="${v}" />\n</appSettings>\n`, v, 'key="ApiKey"');

  // --- HTTP -----------------------------------------------------------------------------------
  v = base64(`admin:${pw(12)}`);
  add('http: Authorization: Basic …', `GET /admin HTTP/1.1\nHost: internal\nAuthorization: Basic ${v}\n`, v, 'Authorization: Basic');

  // --- vendor formats -------------------------------------------------------------------------
  v = j('gh', 'p_', b62(36));
  add('GitHub classic token', `const gh = new Octokit({ auth: "${v}" });\n`, v);
  v = j('github', '_pat_', b62(22), '_', b62(59));
  add('GitHub fine-grained token', `GH_PAT=${v}\n`, v);
  v = j('gl', 'pat-', b62(20));
  add('GitLab personal access token', `gitlab_token: ${v}\n`, v);
  v = j('xo', 'xb-', digits(12), '-', digits(13), '-', b62(24));
  add('Slack bot token', `slack = WebClient(token="${v}")\n`, v);
  v = j('https://hooks.slack.com/services/T', upnum(10), '/B', upnum(10), '/', b62(24));
  add('Slack incoming webhook URL', `notify_url = "${v}"\n`, v.slice(v.lastIndexOf('/') + 1));
  v = j('np', 'm_', b62(36));
  add('npm token in .npmrc text', `//registry.npmjs.org/:_authToken=${v}\n`, v);
  v = j('sk', '-proj-', b62(58), 'T3Blbk', 'FJ', b62(58));
  add('OpenAI project key', `openai.api_key = "${v}"\n`, v);
  v = j('sk', '-ant-api03-', b62(93), 'AA');
  add('Anthropic key', `ANTHROPIC=${v}\n`, v);
  v = j('hf', '_', pick(LOWER + UPPER, 34));
  add('Hugging Face token', `huggingface-cli login --token ${v}\n`, v);
  v = j('S', 'G.', b62(22), '.', b62(43));
  add('SendGrid key', `sg = SendGridAPIClient("${v}")\n`, v);
  v = j('shp', 'at_', hex(32));
  add('Shopify access token', `shopify.Session.setup(api_key="k", password="${v}")\n`, v);
  v = j('AI', 'za', b62(35));
  add('Google API key', `<script src="https://maps.googleapis.com/maps/api/js?key=${v}"></script>\n`, v);
  v = j('sk', '_live_', b62(24));
  add('Stripe live key', `stripe.api_key = "${v}"\n`, v);
  v = j(j('AK', 'IA'), upnum(16));
  add('AWS access key ID', `aws configure set aws_access_key_id ${v}\n`, v);
  const b64url = (o: object): string => j('ey', Buffer.from(JSON.stringify(o)).toString('base64url').slice(2));
  v = j(b64url({ alg: 'HS256', typ: 'JWT' }), '.', b64url({ sub: digits(10), name: 'svc' }), '.', b62(43));
  add('JWT in a cookie header', `Cookie: session=${v}; Path=/\n`, v);
  v = j('dckr', '_pat_', b62(27));
  add('Docker Hub PAT', `echo "${v}" | docker login -u ci --password-stdin\n`, v);
  v = j('hv', 's.', b62(95));
  add('HashiCorp Vault token', `VAULT_ADDR=https://vault.internal\nexport VAULT=${v}\n`, v);
  v = j('dapi', hex(32));
  add('Databricks token', `databricks_host = "https://x.cloud.databricks.com"\ndatabricks_pat = "${v}"\n`, v);
  key = pem(j('RSA PRI', 'VATE'), 20);
  add('PEM RSA private key in a source file', `const pem = \`${key.text}\`;\n`, key.body.slice(0, 60));
  key = pem(j('OPENSSH PRI', 'VATE'), 6);
  add('OpenSSH private key in a README', `Deploy key:\n\n${key.text}\n`, key.body.slice(70, 130));
  key = pem(j('EC PRI', 'VATE'), 3);
  add('EC private key in YAML block', `tls:\n  key: |\n    ${key.text.replace(/\n/g, '\n    ')}\n`, key.body.slice(0, 50));

  // --- more languages and tools --------------------------------------------------------------
  v = pw(16);
  add('gradle: signingConfigs storePassword "…"', `signingConfigs {\n    release {\n        storeFile file("release.jks")\n        storePassword "${v}"\n    }\n}\n`, v, 'storePassword');
  v = b62(32);
  add('Makefile: API_TOKEN ?= …', `API_TOKEN ?= ${v}\ndeploy:\n\t./deploy.sh\n`, v, 'API_TOKEN');
  v = pw(16);
  add('docker run -e POSTGRES_PASSWORD=…', `docker run -d -e POSTGRES_USER=app -e POSTGRES_PASSWORD=${v} postgres:16\n`, v, 'POSTGRES_PASSWORD=');
  v = b62(40);
  add('Jupyter notebook cell with escaped quotes', JSON.stringify({ cells: [{ cell_type: 'code', source: ['import weather\n', `weather.api_key = "${v}"\n`] }] }), v, 'weather.api_key');
  v = b64(300);
  add('ini: aws_session_token', `[default]\naws_session_token = ${v}\n`, v, 'aws_session_token');
  v = hex(32);
  add('env: Twilio auth token', `TWILIO_ACCOUNT_SID=AC${hex(32)}\nTWILIO_AUTH_TOKEN=${v}\n`, v, 'TWILIO_AUTH_TOKEN=');
  v = j('key-', hex(32));
  add('env: Mailgun key-… value', `MAILGUN_API_KEY=${v}\n`, v, 'MAILGUN_API_KEY=');
  v = j(b62(24), '.', b62(6), '.', b62(27));
  add('env: Discord bot token (dotted)', `DISCORD_TOKEN=${v}\n`, v, 'DISCORD_TOKEN=');
  v = j(digits(10), ':AA', b62(33));
  add('yaml: Telegram bot token', `telegram:\n  bot_token: "${v}"\n`, v, 'bot_token');
  v = uuid();
  add('env: Heroku API key (a UUID)', `HEROKU_API_KEY=${v}\n`, v, 'HEROKU_API_KEY=');
  v = b62(32);
  add('yarnrc: npmAuthToken', `npmRegistryServer: "https://npm.internal"\nnpmAuthToken: "${v}"\n`, v, 'npmAuthToken');
  v = pw(16);
  add('perl: my $password = …', `my $password = '${v}';\nmy $dbh = DBI->connect($dsn, $user, $password);\n`, v, '$password');
  v = hex(128);
  add('elixir: config secret_key_base:', `config :shop, ShopWeb.Endpoint,\n  secret_key_base: "${v}"\n`, v, 'secret_key_base:');
  v = b62(40);
  add('nginx: Authorization Bearer header', `location /api/ {\n  proxy_set_header Authorization "Bearer ${v}";\n}\n`, v, 'Bearer');
  v = b62(32);
  add('R: Sys.setenv(OPENAI_KEY = "…")', `Sys.setenv(WEATHER_API_KEY = "${v}")\n`, v, 'WEATHER_API_KEY');
  v = b62(32);
  add('lua: local api_key = "…"', `local api_key = "${v}"\n`, v, 'api_key');
  v = pw(16);
  add('swift: let dbPassword = "…"', `let dbPassword = "${v}"\n`, v, 'dbPassword');

  // --- look-alikes ----------------------------------------------------------------------------
  const lookAlikes: LookAlike[] = [];
  const like = (name: string, text: string): void => void lookAlikes.push({ name, text });
  like('process.env.API_KEY', 'const apiKey = process.env.API_KEY;\n');
  like('os.environ["TOKEN"]', 'token = os.environ["TOKEN"]\n');
  like('password: string (TS interface)', 'interface Login {\n  username: string;\n  password: string;\n}\n');
  like('getPassword()', 'const password = getPassword();\n');
  like('token = req.headers.authorization', 'const token = req.headers.authorization;\n');
  like('API_KEY_HEADER = "x-api-key"', 'const API_KEY_HEADER = "x-api-key";\n');
  like('password_min_length = 12', 'password_min_length = 12\n');
  like('token: ${{ secrets.GITHUB_TOKEN }}', '      - uses: actions/checkout@v4\n        with:\n          token: ${{ secrets.GITHUB_TOKEN }}\n');
  like('placeholder changeme', 'DB_PASSWORD=changeme\n');
  like('placeholder <your-key-here>', 'API_KEY=<your-key-here>\n');
  like('placeholder xxxxxxxx', 'SECRET_KEY=xxxxxxxxxxxxxxxx\n');
  like('${DB_PASSWORD} reference', 'services:\n  db:\n    environment:\n      POSTGRES_PASSWORD: ${DB_PASSWORD}\n');
  like('$VAR reference in shell', 'mysql -u app --password="$DB_PASSWORD" shop\n');
  like('package-lock integrity', `    "node_modules/lodash": {\n      "version": "4.17.21",\n      "integrity": "sha512-${b64(86)}=="\n    }\n`);
  like('yarn.lock integrity', `lodash@^4.17.21:\n  version "4.17.21"\n  resolved "https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz#${hex(40)}"\n  integrity sha512-${b64(86)}==\n`);
  like('git commit sha', `commit ${hex(40)}\nAuthor: Dev <dev@example.com>\n`);
  like('GitHub API sha field', JSON.stringify({ sha: hex(40), node_id: `C_${b62(20)}`, url: 'https://api.github.com/repos/o/r/commits/x' }, null, 2));
  like('go.sum hash', `github.com/pkg/errors v0.9.1 h1:${b64(43)}=\n`);
  like('Cargo.lock checksum', `[[package]]\nname = "serde"\nversion = "1.0.203"\nchecksum = "${hex(64)}"\n`);
  like('UUID id', JSON.stringify({ id: uuid(), name: 'order' }));
  like('UUID correlation id', `correlation_id = "${uuid()}"\n`);
  like('base64 test fixture', `const fixture = Buffer.from("${b64(64)}", "base64");\n`);
  like('base64 image data URI', `background: url(data:image/png;base64,${b64(120)}=);\n`);
  like('PUBLIC KEY PEM', j('-----BEGIN PUBLIC KEY-----\n', pemBody(6), '\n-----END PUBLIC KEY-----\n'));
  like('CERTIFICATE PEM', j('-----BEGIN CERTIFICATE-----\n', pemBody(8), '\n-----END CERTIFICATE-----\n'));
  like('ssh-rsa public key', `ssh-rsa AAAAB3NzaC1yc2E${b64(360)} deploy@ci\n`);
  like('ssh-ed25519 in authorized keys YAML', `users:\n  - name: deploy\n    ssh_authorized_keys:\n      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI${b64(43)} me@laptop\n`);
  like('VAPID publicKey', `const vapid = { publicKey: "B${b64(86)}" };\n`);
  like('CSS colors', '.btn { color: #a3f9c2; background: #1e1e1e; border-color: #ff0066aa; }\n');
  like('version strings', '"version": "4.17.21",\nVERSION=1.2.3-beta.4\n');
  like('i18n password label', '{ "password.label": "Password", "password.hint": "At least 12 characters" }\n');
  like('i18n token message', '{ "auth.token_expired": "Your session token has expired" }\n');
  like('bcrypt hash call', 'const passwordHash = await bcrypt.hash(password, 10);\n');
  like('missing token error', 'if (!token) throw new Error("missing token");\n');
  like('React password input', '<input type="password" name="password" value={password} onChange={onChange} />\n');
  like('k8s secretKeyRef', 'env:\n  - name: DB_PASSWORD\n    valueFrom:\n      secretKeyRef:\n        name: db-credentials\n        key: password\n');
  like('k8s secretName', 'tls:\n  - hosts: [shop.example.com]\n    secretName: shop-tls-cert\n');
  like('tokenizer from_pretrained', 'tokenizer = AutoTokenizer.from_pretrained("Qwen/Qwen2.5-Coder-0.5B")\n');
  like('pad_token special token', 'pad_token: "<|endoftext|>"\neos_token: "<|im_end|>"\n');
  like('max_tokens number', 'max_tokens: 4096\ntemperature: 0.2\n');
  like('pagination next_page_token', 'next_page_token = response["nextPageToken"]\n');
  like('CancellationToken parameter', 'async function run(cancellationToken: vscode.CancellationToken): Promise<void> {}\n');
  like('cache key template', 'const cacheKey = `user:${id}:profile`;\n');
  like('primary/partition key names', 'primary_key: "id"\npartition_key = "tenant_id"\n');
  like('i18n key', 'key: "app.title"\n');
  like('React key prop', '{items.map((item) => <Row key={item.id} item={item} />)}\n');
  like('KEY_LENGTH constant', 'const KEY_LENGTH = 32;\nconst TOKEN_TTL_SECONDS = 3600;\n');
  like('secret file paths', 'ENCRYPTION_KEY_PATH=/run/secrets/encryption.key\nPASSWORD_FILE=/run/secrets/db_password\n');
  like('JDBC with ${DB_PASS}', 'jdbc.url=jdbc:postgresql://db:5432/app?user=app&password=${DB_PASS}\n');
  like('URL with ${…} credentials', 'DATABASE_URL=postgresql://${DB_USER}:${DB_PASSWORD}@db:5432/app\n');
  like('URLs without credentials', 'git clone https://github.com/org/repo.git\ngit clone ssh://git@github.com/org/repo.git\n');
  like('URL with <password> placeholder', 'MONGO_URI=mongodb+srv://<username>:<password>@cluster0.mongodb.net/test\n');
  like('SHA-256 of the empty string', 'const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";\n');
  like('Docker image digest', `    image: nginx@sha256:${hex(64)}\n`);
  like('Git LFS pointer', `version https://git-lfs.github.com/spec/v1\noid sha256:${hex(64)}\nsize 48213\n`);
  like('terraform sensitive variable', 'variable "db_password" {\n  type      = string\n  sensitive = true\n}\n');
  like('terraform var reference', 'resource "aws_db_instance" "main" {\n  password = var.db_password\n}\n');
  like('ansible vault tag', 'db_password: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n');
  like('python type hints', 'def login(username: str, password: str) -> Token:\n    ...\n');
  like('go struct tag', 'type Config struct {\n\tPassword string `json:"password" yaml:"password"`\n}\n');
  like('c# property', 'public string ApiKey { get; set; }\n');
  like('java System.getenv', 'String password = System.getenv("DB_PASSWORD");\n');
  like('python os.environ.get default ""', 'SECRET_KEY = os.environ.get("SECRET_KEY", "")\n');
  like('docs sentence', 'Set the `API_KEY` environment variable to your key, and keep the token out of git.\n');
  like('token_type bearer', '{ "access_token": "<token>", "token_type": "bearer", "expires_in": 3600 }\n');
  like('Bearer <token> in docs', 'curl -H "Authorization: Bearer <token>" https://api.example.com/v1/me\n');
  like('Bearer template literal', 'headers.Authorization = `Bearer ${accessToken}`;\n');
  like('Bearer string concatenation', 'const auth = { Authorization: "Bearer " + accessToken };\n');
  like('npmrc with ${NPM_TOKEN}', '//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n');
  like('seed and salt numbers', 'seed: 42\nrandom_seed = 1234\nsalt_rounds = 10\n');
  like('hmac algorithm name', 'hmac_algorithm = "sha256"\n');
  like('SecretsManager client', 'const secretsManager = new SecretsManagerClient({ region: "us-east-1" });\n');
  like('secret ARN', 'secret_arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-AbCdEf"\n');
  like('password regex', 'const passwordRegex = /^(?=.*[A-Z])(?=.*\\d).{8,}$/;\n');
  like('hashed chunk file names', `<script src="/static/js/main.${hex(8)}.js"></script>\n`);
  like('SRI integrity attribute', `<script src="/lib.js" integrity="sha384-${b64(64)}" crossorigin="anonymous"></script>\n`);
  like('hotkey strings', 'hotkey = "ctrl+shift+p"\nkeyboardShortcut: "ctrl+k"\n');
  like('useState token', 'const [token, setToken] = useState<string | null>(null);\n');
  like('token scopes list', 'export const GITHUB_TOKEN_SCOPES = ["repo", "read:org"];\n');
  like('fetch credentials option', 'fetch(url, { credentials: "include" });\nfetch(url, { credentials: "same-origin" });\n');
  like('nested password from env', 'auth: { user: "admin", pass: process.env.SMTP_PASSWORD },\n');
  like('password policy prose', 'password: "at least 12 characters, one digit"\n');
  like('private_key_path', 'private_key_path: ~/.ssh/id_ed25519\n');
  like('tokenizer_class', '{ "tokenizer_class": "Qwen2Tokenizer", "model_max_length": 32768 }\n');
  like('semver ranges', '"devDependencies": { "typescript": "^5.4.0", "tsx": "~4.7.1" }\n');
  like('base64 of hello world', 'expect(encode("hello world")).toBe("aGVsbG8gd29ybGQ=");\n');
  like('boolean secret flags', 'secret: false\nisSecret = true\n');
  like('empty apiKey', "const settings = { apiKey: '' };\n");
  like('TS compiler-like code', 'function scanToken(): SyntaxKind {\n  const token = scanner.scan();\n  return token === SyntaxKind.Identifier ? token : SyntaxKind.Unknown;\n}\n');
  like('TS generic default', 'new <T extends WeakKey = WeakKey>(values?: readonly T[] | null): WeakSet<T>;\n');
  like('member type annotation', '  readonly keywordToken: SyntaxKind.ImportKeyword;\n');
  like('dictionary lookup by key', 'const value = map.get(key) ?? defaults[key];\n');
  like('python kwargs from variables', 'conn = connect(host=host, user=user, password=password)\n');
  like('kwarg from settings', 'engine = create_engine(url, password=settings.DB_PASSWORD)\n');
  like('long identifier under a key name', 'const apiKey = configurationService.resolveApiKeyForTenant(tenantId);\n');
  like('docker login with stdin', 'echo "$REGISTRY_PASSWORD" | docker login -u ci --password-stdin registry.internal\n');
  like('localhost dev URL', 'DATABASE_URL=postgresql://localhost:5432/dev\n');
  like('public key fingerprints', `SHA256:${b64(43)} deploy@ci (ED25519)\n`);
  like('token regex', 'const TOKEN_REGEX = /^[a-f0-9]{40}$/;\n');
  like('npm resolved URL', '"resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz",\n');
  like('k8s Secret metadata', 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: db-secret\ntype: Opaque\n');
  like('empty and null values', 'password: ""\ntoken: null\n');
  like('Spring @Value reference', '@Value("${app.jwt.secret}")\nprivate String jwtSecret;\n');
  like('.properties ${} reference', 'spring.datasource.password=${DB_PASSWORD}\n');
  like('request.args.get("api_key")', 'api_key = request.args.get("api_key")\n');
  like('self.secret_key = secret_key', '        self.secret_key = secret_key\n');
  like('#define MAX_KEY_LEN', '#define MAX_KEY_LEN 256\n');
  like('csrf meta tag template', '<meta name="csrf-token" content="{{ csrf_token() }}">\n');
  like('kotlin BuildConfig key', 'private val apiKey by lazy { BuildConfig.API_KEY }\n');
  like('SQL password_hash column', 'ALTER TABLE users ADD COLUMN password_hash VARCHAR(255) NOT NULL;\n');
  like('OpenAPI apiKey scheme', 'securitySchemes:\n  ApiKeyAuth:\n    type: apiKey\n    in: header\n    name: X-API-KEY\n');
  like('GitHub Actions id-token permission', 'permissions:\n  id-token: write\n  contents: read\n');
  like('terraform var secret_key', 'secret_key = var.secret_key\n');
  like('shell command substitution', 'TOKEN=$(gcloud auth print-access-token)\nexport GITHUB_TOKEN=$(cat /run/secrets/gh)\n');
  like('python f-string DSN', 'url = f"postgresql://{user}:{password}@{host}/{db}"\n');
  like('JS template DSN', 'const uri = `mongodb://${user}:${pass}@${host}/app`;\n');
  like('ruby ENV.fetch', '  password: ENV.fetch("DB_PASSWORD"),\n');
  like('SHA-1 test vector', 'expect(sha1("abc")).toBe("a9993e364706816aba3e25717850c26c9cd0d89d");\n');
  like('pnpm-lock resolution', `  /lodash@4.17.21:\n    resolution: {integrity: sha512-${b64(86)}==}\n`);
  like('woff2 font data URI', `  src: url(data:font/woff2;base64,${b64(400)}) format("woff2");\n`);
  like('SHA-256 round constants', 'const K = [0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b];\n');
  like('generateKey call', 'const keyPair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]);\n');
  like('passphrase from env', 'passphrase: process.env.KEY_PASSPHRASE,\n');
  like('<GITHUB_TOKEN> placeholder', '{ "token": "<GITHUB_TOKEN>" }\n');
  like('masked password', 'password: "********"\n');
  like('ansible Jinja reference', 'secret_key: "{{ vault_secret_key }}"\n');
  like('secret name constant', 'DEFAULT_SECRET_NAME = "app-secrets"\n');
  like('VS Code keybindings', '[{ "key": "ctrl+shift+b", "command": "workbench.action.tasks.build" }, { "key": "ctrl+k ctrl+0", "command": "editor.foldAll" }]\n');
  like('i18n call with a key', 't("auth.password.tooShort", { min: 8 })\n');
  like('random secret key generator', 'SECRET_KEY = get_random_secret_key()\nsalt = bcrypt.gensalt()\nseed = int(time.time())\n');
  like('go jwt.Parse', 'token, err := jwt.Parse(tokenString, keyFunc)\n');
  like('java readPassword', 'char[] password = console.readPassword();\n');
  like('appsettings empty Jwt key', '{ "Jwt": { "Key": "", "Issuer": "shop" } }\n');
  like('AUTH0_DOMAIN', 'AUTH0_DOMAIN=shop.eu.auth0.com\nAUTH0_CLIENT_ID_NAME=web\n');
  like('OAuth client id', `clientId: "${digits(12)}-abcdefghij.apps.googleusercontent.com"\n`);
  like('token endpoint auth method', 'token_endpoint_auth_method: client_secret_basic\n');
  like('token ttl', 'password_reset_token_ttl: 3600\n');
  like('ternary with a token', 'const t = token ? token : SyntaxKind.Unknown;\n');
  return { secrets, lookAlikes };
}
