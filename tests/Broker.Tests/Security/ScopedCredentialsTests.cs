using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Security;

/// <summary>
/// Every credential has a scope. The metrics-only ones (the configured metrics token, an operator key and a tenant key of
/// metrics scope) read /metrics and get 403 on every API route, found by walking the app's own endpoints; a tenant key of
/// member scope acts as a member. The Prometheus credential once was the bootstrap operator token, and could mint keys.
/// </summary>
public sealed partial class ScopedCredentialsTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private const string MetricsToken = "metrics-test-token-0123456789";

    protected override Dictionary<string, string?> BrokerSettings => new() { ["Metrics:Token"] = MetricsToken };

    private sealed record CreatedKey(Guid Id, string Scope, string? Key);

    [Fact]
    public async Task MetricsOnlyCredentialsReadMetricsAndGet403OnEveryApiRoute()
    {
        var (_, fleetKey, fleetLink) = await SeedTenantAsync("fleet", "The Fleet");
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(fleetLink, "bob@example.com", "bob-demo");
        await PollAccountsAsync();
        var operatorMetrics = await CreateAsync(BrokerApplication.OperatorToken, "/api/v1/operator/keys", "metrics");
        var tenantMetrics = await CreateAsync(ApiKey, "/api/v1/api-keys", "metrics");
        Assert.Equal(("metrics", "metrics"), (operatorMetrics.Scope, tenantMetrics.Scope));

        var everyTenant = await ScrapeMetricsAsync(MetricsToken);
        Assert.Contains("tenant=\"household\"", everyTenant);
        Assert.Contains("tenant=\"fleet\"", everyTenant);
        Assert.Contains("tesla_broker_scrape_duration_seconds", everyTenant);
        Assert.Contains("tenant=\"fleet\"", await ScrapeMetricsAsync(operatorMetrics.Key!));
        var ownTenant = await ScrapeMetricsAsync(tenantMetrics.Key!);
        Assert.Contains("tenant=\"household\"", ownTenant);
        Assert.DoesNotContain("tenant=\"fleet\"", ownTenant);

        var routes = ApiRoutes();
        Assert.True(routes.Count >= 25, $"only {routes.Count} API routes found");
        var failures = new List<string>();
        foreach (var (credential, name) in new[] { (MetricsToken, "metrics token"), (operatorMetrics.Key!, "operator metrics key"), (tenantMetrics.Key!, "tenant metrics key") })
        {
            foreach (var (method, path) in routes)
            {
                var request = new HttpRequestMessage(new HttpMethod(method), path);
                if (method is "POST" or "PUT")
                {
                    request.Content = JsonContent.Create(new { label = "x", slug = "by-metrics", name = "x", email = "m@example.com", role = "admin", wakeAfterSleepMinutes = 5 });
                }
                var response = await ApiClient(credential).SendAsync(request, Ct);
                if (response.StatusCode != HttpStatusCode.Forbidden)
                {
                    failures.Add($"{name}: {method} {path} answered {(int)response.StatusCode}");
                }
            }
        }
        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.Equal(2, (await GetJsonAsync<object[]>(BrokerApplication.OperatorToken, "/api/v1/tenants")).Length); // nothing was created
        Assert.Equal(HttpStatusCode.OK, (await ApiClient(fleetKey).GetAsync("/api/v1/accounts", Ct)).StatusCode);
    }

    [Fact]
    public async Task AMemberScopedTenantKeyActsAsAMemberInBothForms()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        var member = ApiClient((await CreateAsync(ApiKey, "/api/v1/api-keys", "member")).Key!);

        foreach (var prefix in new[] { "/api/v1", "/api/v1/tenants/household" })
        {
            Assert.Equal(HttpStatusCode.OK, (await member.GetAsync($"{prefix}/accounts", Ct)).StatusCode);
            Assert.Equal(HttpStatusCode.Created, (await member.PostAsJsonAsync($"{prefix}/connect-links", new { label = "by member" }, Ct)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await member.PostAsync($"{prefix}/accounts/{account.Id}/revoke", null, Ct)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await member.GetAsync($"{prefix}/api-keys", Ct)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await member.PostAsJsonAsync($"{prefix}/api-keys", new { label = "escalate", scope = "admin" }, Ct)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await member.PostAsJsonAsync($"{prefix}/members", new { email = "m@example.com", role = "admin" }, Ct)).StatusCode);
            Assert.Equal(HttpStatusCode.Forbidden, (await member.PutAsJsonAsync($"{prefix}/policy", new { wakeAfterSleepMinutes = 5 }, Ct)).StatusCode);
        }
        Assert.Equal("active", (await GetJsonAsync<AccountResponse>(ApiKey, $"/api/v1/accounts/{account.Id}")).Status);
    }

    /// <summary>Found by the compose check: an empty token file and a bearer of only a vertical tab (trimmed to "") made an operator.</summary>
    [Fact]
    public async Task AnEmptyOrBlankConfiguredTokenMakesNobodyAnything()
    {
        var empty = Path.GetTempFileName();
        await using var broker = new BrokerApplication(Broker.ConnectionString, Simulator, new()
        {
            ["Operator:Token"] = " ", ["Operator:TokenFile"] = empty, ["Metrics:Token"] = "", ["Metrics:TokenFile"] = empty,
        });
        foreach (var header in new[] { "Bearer \u000b", "Bearer \u000c", "Bearer  ", "Bearer", "Bearer \t", "Bearer \u00a0" })
        {
            foreach (var path in new[] { "/api/v1/tenants", "/metrics", "/api/v1/operator/keys" })
            {
                var request = new HttpRequestMessage(HttpMethod.Get, path);
                request.Headers.TryAddWithoutValidation("Authorization", header);
                var response = await broker.CreateClient().SendAsync(request, Ct);
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{path} with '{Uri.EscapeDataString(header)}': {(int)response.StatusCode}");
            }
        }
        File.Delete(empty);
    }

    private async Task<CreatedKey> CreateAsync(string credential, string path, string scope)
    {
        var response = await ApiClient(credential).PostAsJsonAsync(path, new { label = scope, scope }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<CreatedKey>(Ct))!;
    }

    /// <summary>Every /api route of the app, each method, with its parameters filled in.</summary>
    private List<(string Method, string Path)> ApiRoutes() =>
        [.. from endpoint in Broker.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            let pattern = "/" + endpoint.RoutePattern.RawText!.TrimStart('/')
            where pattern.StartsWith("/api/")
            from method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? []
            select (method, Parameter().Replace(pattern, m => m.Groups["name"].Value switch
            {
                "tenant" => "household",
                "id" => Guid.NewGuid().ToString(),
                "vin" => "5YJ3E1EA7PF381204",
                "name" => "charge_start",
                var name => throw new InvalidOperationException($"The walk does not know what to put in {{{name}}} of {pattern}: teach it."),
            }))];

    [GeneratedRegex(@"\{(?<name>[a-z]+)(:[a-z]+)?\}")]
    private static partial Regex Parameter();
}
