using System.Net;
using System.Net.Http.Json;
using Broker.Tests.Infrastructure;

namespace Broker.Tests.People;

/// <summary>
/// Found by the outside test: a second invitation of a member silently changed their role (an admin became a member), the
/// tenant's only admin could remove herself, email checks let <c>a b@c.com</c> through, and two equal invitations at once
/// (or two equal tenants) answered 500 where the unique index caught the second.
/// </summary>
public sealed class MembershipRulesTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    private sealed record Member(Guid Id, string Email, string Role, bool Joined);

    [Fact]
    public async Task ARoleChangesOnlyBySayingSoAndTheTenantKeepsAnAdmin()
    {
        var key = ApiClient(ApiKey);
        var ann = (await (await key.PostAsJsonAsync("/api/v1/members", new { email = "ann@example.com", role = "admin" }, Ct)).Content.ReadFromJsonAsync<Member>(Ct))!;

        var again = await key.PostAsJsonAsync("/api/v1/members", new { email = "ANN@example.com" }, Ct);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("admin", (await key.GetFromJsonAsync<Member[]>("/api/v1/members", Ct))!.Single().Role);

        // Ann is the only admin: she can be neither demoted nor removed until someone else is one.
        Assert.Equal(HttpStatusCode.Conflict, (await key.PutAsJsonAsync($"/api/v1/members/{ann.Id}", new { role = "member" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await key.DeleteAsync($"/api/v1/members/{ann.Id}", Ct)).StatusCode);
        var bo = (await (await key.PostAsJsonAsync("/api/v1/members", new { email = "bo@example.com", role = "member" }, Ct)).Content.ReadFromJsonAsync<Member>(Ct))!;
        Assert.Equal(HttpStatusCode.OK, (await key.PutAsJsonAsync($"/api/v1/members/{bo.Id}", new { role = "admin" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await key.PutAsJsonAsync($"/api/v1/members/{ann.Id}", new { role = "member" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await key.DeleteAsync($"/api/v1/members/{ann.Id}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await key.PutAsJsonAsync($"/api/v1/members/{bo.Id}", new { }, Ct)).StatusCode); // the role must be said
        await using var db = Broker.CreateDbContext();
        Assert.Contains(db.AuditEvents, e => e.Action == "membership.role_changed" && e.Detail!.Contains("ann@example.com; role=admin -> member"));
    }

    [Theory]
    [InlineData("a b@example.com")]
    [InlineData("a@b")]
    [InlineData("\"a\"@example.com")]
    [InlineData("a@[127.0.0.1]")]
    [InlineData("<script>@x.com")]
    [InlineData("a@-example.com")]
    [InlineData("a..b@example.com")]
    [InlineData("@example.com")]
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@example.com")]   // 65 characters before the @
    [InlineData("aaaaaaa@bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.com")]   // 255 in all
    public async Task AnInvitationGoesOnlyToAnAddressSomeoneCanSignInWith(string email)
    {
        var response = await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/members", new { email, role = "member" }, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
    }

    [Fact]
    public async Task EqualWritesAtTheSameMomentAreOneSuccessAndConflictsNeverAServerError()
    {
        var invites = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => ApiClient(ApiKey).PostAsJsonAsync("/api/v1/members", new { email = "same@example.com", role = "member" }, Ct)));
        Assert.Equal(1, invites.Count(r => r.StatusCode == HttpStatusCode.OK));
        Assert.All(invites, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict, $"{(int)r.StatusCode}"));

        var tenants = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => ApiClient(BrokerApplication.OperatorToken).PostAsJsonAsync("/api/v1/tenants", new { slug = "race", name = "Race" }, Ct)));
        Assert.Equal(1, tenants.Count(r => r.StatusCode == HttpStatusCode.Created));
        Assert.All(tenants, r => Assert.True(r.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"{(int)r.StatusCode}"));
    }
}
