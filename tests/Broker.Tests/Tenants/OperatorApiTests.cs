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
}
