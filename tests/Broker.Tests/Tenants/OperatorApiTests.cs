using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.Tenants;

/// <summary>The operator's and tenant admins' HTTP API: tenants, keys, members, audit, the OpenAPI document.</summary>
public sealed class OperatorApiTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private sealed record KeyCreated(Guid Id, string Prefix, string? Key);
    private sealed record Member(Guid Id, string Email, string Role, bool Joined);
    private sealed record Event(long Id, string Action, string Actor, string? Address, Guid? TenantId, string? Detail);

    [Fact]
    public async Task OperatorCreatesATenantOnceWithAValidSlug()
    {
        var op = ApiClient(BrokerApplication.OperatorToken);

        var created = await op.PostAsJsonAsync("/api/v1/tenants", new { slug = "acme-fleet", name = "Acme Fleet" }, Ct);
        var duplicate = await op.PostAsJsonAsync("/api/v1/tenants", new { slug = "acme-fleet", name = "Again" }, Ct);
        var invalid = await op.PostAsJsonAsync("/api/v1/tenants", new { slug = "Acme Fleet!", name = "Bad" }, Ct);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal("/api/v1/tenants/acme-fleet", created.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var slugs = (await op.GetFromJsonAsync<JsonElement[]>("/api/v1/tenants", Ct))!.Select(t => t.GetProperty("slug").GetString());
        Assert.Equal(["acme-fleet", "household"], slugs);
    }

    [Fact]
    public async Task OperatorKeyWorksUntilRevokedAndIsNamedInTheAuditLog()
    {
        var created = await ApiClient(BrokerApplication.OperatorToken).PostAsJsonAsync("/api/v1/operator/keys", new { label = "automation" }, Ct);
        var key = (await created.Content.ReadFromJsonAsync<KeyCreated>(Ct))!;
        Assert.StartsWith("brko_", key.Key);

        var withKey = ApiClient(key.Key!);
        Assert.Equal(HttpStatusCode.Created, (await withKey.PostAsJsonAsync("/api/v1/tenants", new { slug = "by-key", name = "By key" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await withKey.GetAsync("/api/v1/tenants/household/accounts", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await withKey.DeleteAsync($"/api/v1/operator/keys/{key.Id}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await withKey.GetAsync("/api/v1/tenants", Ct)).StatusCode);

        var events = (await ApiClient(BrokerApplication.OperatorToken).GetFromJsonAsync<Event[]>("/api/v1/operator/audit", Ct))!;
        Assert.Contains(events, e => e.Action == "operator_key.created" && e.Actor == "operator-token");
        Assert.Contains(events, e => e.Action == "tenant.created" && e.Actor == $"operator-key:{key.Prefix}" && e.Detail == "slug=by-key");
        Assert.Contains(events, e => e.Action == "operator_key.revoked" && e.Actor == $"operator-key:{key.Prefix}");
        Assert.DoesNotContain(events, e => e.Detail?.Contains(key.Key!) == true);
    }

    [Fact]
    public async Task TenantKeyManagesItsMembersAndKeysAndReadsOnlyItsOwnAudit()
    {
        var (_, otherKey, _) = await SeedTenantAsync("fleet", "The Fleet");
        var mine = ApiClient(ApiKey);

        var invited = await mine.PostAsJsonAsync("/api/v1/members", new { email = "Ann@Example.com", role = "Admin" }, Ct);
        var member = (await invited.Content.ReadFromJsonAsync<Member>(Ct))!;
        Assert.Equal(("ann@example.com", "admin", false), (member.Email, member.Role, member.Joined));
        var badEmail = await mine.PostAsJsonAsync("/api/v1/members", new { email = "not-an-email" }, Ct);
        Assert.Equal(HttpStatusCode.BadRequest, badEmail.StatusCode);

        var newKey = (await (await mine.PostAsJsonAsync("/api/v1/api-keys", new { label = "prometheus" }, Ct)).Content.ReadFromJsonAsync<KeyCreated>(Ct))!;
        Assert.Equal(HttpStatusCode.OK, (await ApiClient(newKey.Key!).GetAsync("/api/v1/accounts", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await mine.DeleteAsync($"/api/v1/api-keys/{newKey.Id}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await ApiClient(newKey.Key!).GetAsync("/api/v1/accounts", Ct)).StatusCode);

        // Another tenant cannot remove my member, nor read my log.
        Assert.Equal(HttpStatusCode.NotFound, (await ApiClient(otherKey).DeleteAsync($"/api/v1/members/{member.Id}", Ct)).StatusCode);
        var theirs = (await ApiClient(otherKey).GetFromJsonAsync<Event[]>("/api/v1/audit", Ct))!;
        Assert.DoesNotContain(theirs, e => e.TenantId == TenantId);
        var ours = (await mine.GetFromJsonAsync<Event[]>("/api/v1/audit", Ct))!;
        Assert.Contains(ours, e => e.Action == "membership.invited" && e.Actor.StartsWith("tenant-key:brk_"));
        Assert.All(ours, e => Assert.Equal(TenantId, e.TenantId));
    }

    [Fact]
    public async Task OpenApiDocumentDescribesTheTenantAndOperatorApi()
    {
        var document = await Broker.CreateClient().GetFromJsonAsync<JsonElement>("/openapi/v1.json", Ct);

        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        Assert.Contains("/api/v1/tenants/{tenant}/accounts/{id}/revoke", paths);
        Assert.Contains("/api/v1/accounts/{id}/reconnect-links", paths);
        Assert.Contains("/api/v1/tenants", paths);
        Assert.Contains("/api/v1/operator/keys", paths);
        Assert.Contains("/api/v1/operator/audit", paths);
        Assert.Contains("/api/v1/tenants/{tenant}/audit", paths);
        Assert.DoesNotContain(paths, p => p.StartsWith("/console") || p.StartsWith("/connect"));
        Assert.Equal("Broker API", document.GetProperty("info").GetProperty("title").GetString());
    }

    /// <summary>
    /// What a client generator needs: the document parses and validates with Microsoft.OpenApi (the library generators build on);
    /// every operation has a unique id and a summary; every API operation names the bearer scheme and its problem answers; and
    /// the closed word lists of an account are enums holding exactly the words the broker answers.
    /// </summary>
    [Fact]
    public async Task OpenApiDocumentIsCompleteEnoughToGenerateAClientFrom()
    {
        var json = await Broker.CreateClient().GetStringAsync("/openapi/v1.json", Ct);
        var read = Microsoft.OpenApi.OpenApiDocument.Parse(json, "json");
        Assert.Empty(read.Diagnostic?.Errors ?? []);
        var errors = Microsoft.OpenApi.OpenApiElementExtensions.Validate(read.Document!, Microsoft.OpenApi.ValidationRuleSet.GetDefaultRuleSet());
        Assert.Empty(errors ?? []);

        var document = JsonDocument.Parse(json).RootElement;
        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("bearer");
        Assert.Equal(("http", "bearer"), (scheme.GetProperty("type").GetString(), scheme.GetProperty("scheme").GetString()));

        var ids = new List<string>();
        var operations = 0;
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var op in path.Value.EnumerateObject().Where(o => o.Name is "get" or "post" or "put" or "delete" or "patch"))
            {
                operations++;
                var where = $"{op.Name.ToUpperInvariant()} {path.Name}";
                Assert.True(op.Value.TryGetProperty("operationId", out var id), $"{where} has no operationId");
                ids.Add(id.GetString()!);
                Assert.False(string.IsNullOrWhiteSpace(op.Value.TryGetProperty("summary", out var summary) ? summary.GetString() : null), $"{where} has no summary");
                var declared = op.Value.TryGetProperty("parameters", out var parameters)
                    ? parameters.EnumerateArray().Where(p => p.GetProperty("in").GetString() == "path").Select(p => p.GetProperty("name").GetString()).ToHashSet()
                    : [];
                foreach (System.Text.RegularExpressions.Match m in System.Text.RegularExpressions.Regex.Matches(path.Name, "{([^}]+)}"))
                {
                    Assert.True(declared.Contains(m.Groups[1].Value), $"{where} does not declare its path parameter {m.Value}");
                }
                if (!path.Name.StartsWith("/api/"))
                {
                    continue;
                }
                Assert.True(op.Value.TryGetProperty("security", out var security) && security.ToString().Contains("bearer"), $"{where} names no bearer scheme");
                var responses = op.Value.GetProperty("responses");
                foreach (var refusal in responses.EnumerateObject().Where(r => r.Name.StartsWith('4')))
                {
                    var types = refusal.Value.TryGetProperty("content", out var content) ? content.EnumerateObject().Select(c => c.Name).ToList() : [];
                    Assert.True(types.SequenceEqual(["application/problem+json"]), $"{where}: {refusal.Name} is [{string.Join(", ", types)}]");
                }
                foreach (var status in path.Name.Contains('{') ? new[] { "401", "403", "404" } : ["401", "403"])
                {
                    Assert.True(responses.TryGetProperty(status, out var response), $"{where} does not describe {status}");
                    Assert.True(response.GetProperty("content").TryGetProperty("application/problem+json", out _), $"{where}: {status} is not problem+json");
                }
            }
        }
        Assert.True(operations >= 40, $"only {operations} operations");   // each tenant route twice (short and tenant-named), plus operator routes
        Assert.Equal(ids.Count, ids.Distinct().Count());
        Assert.Contains("listAccounts", ids);
        Assert.Contains("listAccountsForTenant", ids);
        Assert.True(document.GetProperty("paths").GetProperty("/api/v1/members/{id}").GetProperty("delete").GetProperty("responses").TryGetProperty("409", out _),
            "removing a member can be refused (the last admin): 409 described");

        var account = document.GetProperty("components").GetProperty("schemas").GetProperty("AccountResponse").GetProperty("properties");
        Assert.Equal(global::Broker.Admin.ApiDescription.AccountStatuses, account.GetProperty("status").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(global::Broker.Admin.ApiDescription.AttentionReasons,
            account.GetProperty("attention").GetProperty("items").GetProperty("enum").EnumerateArray().Select(e => e.GetString()));
    }
}
