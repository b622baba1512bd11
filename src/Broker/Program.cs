using Broker.Accounts;
using Broker.Admin;
using Broker.Commands;
using Broker.Connect;
using Broker.Data;
using Broker.Hosting;
using Broker.Jobs;
using Broker.Metrics;
using Broker.Partner;
using Broker.People;
using Broker.Tenants;
using Broker.Telemetry;
using Broker.Tesla;
using Broker.Tokens;
using Broker.Vault;

var builder = WebApplication.CreateBuilder(args);

builder.AddBrokerHosting();        // Hosting/: clock, problem details, validation, pages, trusted proxies, health, shutdown
builder.AddBrokerDatabase();       // Data/: EF Core + Npgsql, health check
builder.AddVault();                // Vault/: AES-256-GCM token envelopes, keys from configuration
builder.AddTesla();                // Tesla/: token endpoint and Fleet API clients
builder.AddTenancy();              // Tenants/: API keys (tenant and operator), API policies
builder.AddPeople();               // People/: console sign-in (OpenID Connect), memberships, who may see which tenant
builder.AddAdmin();                // Admin/: the console, audit log, operator keys, OpenAPI, rate limits
builder.AddPartner();              // Partner/: Fleet API partner key, registration per region, virtual-key checks
builder.AddTeslaConnect();         // Connect/: the Tesla OpenID Connect scheme, Data Protection in Postgres
builder.AddTokens();               // Tokens/: refresh before expiry, one refresh per account across replicas
builder.AddTelemetry();            // Telemetry/: Fleet Telemetry configs per car, MQTT ingest of what cars stream (shared subscription)
builder.AddCommands();             // Commands/: commands to cars, REST or signed (Vehicle Command Protocol), sessions in Postgres
builder.AddJobs();                 // Jobs/ + Polling/: clustered Quartz on Postgres, sleep-aware polling
builder.AddBrokerMetrics();        // Metrics/: /metrics from the stored readings, cached per credential for a few seconds

var app = builder.Build();

// A command (migrate | vault rekey | tenant create) runs and exits; otherwise migrate (Development) or refuse an older schema.
if ((await app.RunCommandAsync(args) ?? await app.PrepareDatabaseAsync()) is { } exitCode)
{
    return exitCode;
}

app.UseExceptionHandler();
app.UseBrokerFrontDoor();         // trusted proxies' forwarded headers; control characters in the URL are a 400
app.UseBrokerStatusCodePages();   // empty 4xx/5xx get a body: always problem+json under /api
app.UseConnectPageHeaders();   // CSP, nosniff, no framing on every /connect and /console page
app.UseAuthentication();   // also serves /connect/callback for the Tesla scheme
app.UseAuthorization();
app.UseRateLimiter();   // sign-in and connect endpoints
app.UseAntiforgery();

app.MapConnect();
app.MapTenantApi(AccountsEndpoints.MapAccounts, ConnectLinksEndpoints.MapConnectLinks, TenantsEndpoints.MapTenantPolicy, CommandsEndpoints.MapCommands,
    MembersEndpoints.MapMembers, ApiKeysEndpoints.MapApiKeys, AuditEndpoints.MapTenantAudit);   // /api/v1/tenants/{tenant}/… and /api/v1/…
app.MapOperatorApi();      // /api/v1/tenants, /api/v1/operator/keys, /api/v1/operator/audit
app.MapPartner();          // /.well-known/…/com.tesla.3p.public-key.pem, /api/v1/partner (operator)
app.MapConsole();          // /console: people and operators in a browser
app.MapOpenApi();          // /openapi/v1.json
app.MapBrokerMetrics();
app.MapBrokerHealth();     // / (landing page), /healthz (live), /readyz (Postgres and schema)

await app.RunAsync();
return 0;

public partial class Program;
