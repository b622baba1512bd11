using Broker.Accounts;
using Broker.Admin;
using Broker.Connect;
using Broker.Data;
using Broker.Demo;
using Broker.Jobs;
using Broker.Metrics;
using Broker.Tenants;
using Broker.Tesla;
using Broker.Tokens;
using Broker.Vault;

var builder = WebApplication.CreateBuilder(args);

builder.AddBrokerDatabase();       // Data/: EF Core + Npgsql, health check
builder.AddVault();                // Vault/: AES-256-GCM token envelopes, keys from configuration
builder.AddTesla();                // Tesla/: token endpoint and Fleet API clients
builder.AddTenancy();              // Tenants/: API-key authentication, Tenant policy
builder.AddTeslaConnect();         // Connect/: the Tesla OpenID Connect scheme, Data Protection in Postgres
builder.AddTokens();               // Tokens/: refresh before expiry, one refresh per account across replicas
builder.AddJobs();                 // Jobs/ + Polling/: clustered Quartz on Postgres, sleep-aware polling
builder.AddBrokerMetrics();        // Metrics/: /metrics built per scrape from the stored readings
builder.Services.AddSingleton(TimeProvider.System);
builder.Services.AddProblemDetails();
builder.Services.AddValidation();
builder.Services.AddRazorComponents();
builder.Services.Configure<ForwardedHeadersOptions>(o => o.ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.All);

var app = builder.Build();

if (await app.RunCommandAsync(args) is { } exitCode)   // migrate | vault rekey | tenant create
{
    return exitCode;
}
if (app.Configuration.GetValue("Database:MigrateOnStart", app.Environment.IsDevelopment()))
{
    await app.Services.MigrateBrokerDatabaseAsync();
    await app.Services.SeedDemoTenantAsync();
}

app.UseForwardedHeaders();
app.UseResponseCompression();   // gzip for /metrics (text/plain only)
app.UseExceptionHandler();
app.UseStatusCodePages();
app.UseConnectPageHeaders();   // CSP, nosniff, no framing on every /connect page
app.UseAuthentication();   // also serves /connect/callback for the Tesla scheme
app.UseAuthorization();
app.UseAntiforgery();

app.MapConnect();
app.MapConnectLinks();
app.MapAccounts();
app.MapTenantPolicy();
app.MapBrokerMetrics();
app.MapHealthChecks("/healthz");

await app.RunAsync();
return 0;

public partial class Program;
