using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.Accounts;

public sealed class TenantApiTests(PostgresServer postgres) : BrokerTestBase(postgres)
{
    [Theory]
    [InlineData(null)]
    [InlineData("brk_not-a-real-key")]
    [InlineData("Basic dXNlcjpwYXNz")]
    public async Task RequestWithoutAValidApiKeyGetsProblemDetails(string? credential)
    {
        var client = Broker.CreateClient();
        if (credential is not null)
        {
            client.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", credential.StartsWith("Basic") ? credential : "Bearer " + credential);
        }

        var response = await client.GetAsync("/api/v1/accounts", Ct);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("Bearer", response.Headers.WwwAuthenticate.ToString());
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(401, problem.GetProperty("status").GetInt32());
    }

    /// <summary>The API has no HTML: a browser (Accept: text/html) that sends an invalid body still gets problem+json.</summary>
    [Fact]
    public async Task InvalidBodyIsAProblemWhateverTheClientAccepts()
    {
        var client = ApiClient(ApiKey);
        client.DefaultRequestHeaders.Accept.ParseAdd("text/html");

        var response = await client.PostAsJsonAsync("/api/v1/connect-links", new { label = new string('x', 201) }, Ct);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>(Ct);
        Assert.Equal(400, problem.GetProperty("status").GetInt32());
        Assert.True(problem.TryGetProperty("errors", out _), problem.ToString());
    }

    [Fact]
    public async Task TenantCannotSeeAnotherTenantsAccounts()
    {
        var (_, otherKey, otherLink) = await SeedTenantAsync("fleet", "The Fleet");
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(otherLink, "bob@example.com", "bob-demo");

        var mine = await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts");
        var theirs = await GetJsonAsync<AccountResponse[]>(otherKey, "/api/v1/accounts");

        Assert.Equal("na", Assert.Single(mine).Region);
        Assert.Equal("eu", Assert.Single(theirs).Region);
    }

    [Fact]
    public async Task SameTeslaAccountUnderTwoTenantsIsTwoSeparateLinks()
    {
        var (_, otherKey, otherLink) = await SeedTenantAsync("fleet", "The Fleet");
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(otherLink, "alice@example.com", "alice-demo");

        var mine = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts"));
        var theirs = Assert.Single(await GetJsonAsync<AccountResponse[]>(otherKey, "/api/v1/accounts"));
        Assert.NotEqual(mine.Id, theirs.Id);
    }

    [Fact]
    public async Task ConnectLinkUrlIsShownOnceAndOnlyItsHashIsStored()
    {
        var created = await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/connect-links", new { label = "for grandma" }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var link = await created.Content.ReadFromJsonAsync<JsonElement>(Ct);
        var url = link.GetProperty("url").GetString()!;
        var token = url[(url.LastIndexOf('/') + 1)..];
        Assert.True(token.Length >= 43, "a connect token carries 256 random bits");

        var listed = await GetJsonAsync<JsonElement[]>(ApiKey, "/api/v1/connect-links");
        Assert.All(listed, l => Assert.Equal(JsonValueKind.Null, l.GetProperty("url").ValueKind));
        Assert.Equal(HttpStatusCode.OK, (await NewUser().Browser.GetAsync($"/connect/{token}", Ct)).StatusCode);

        await using var db = Broker.CreateDbContext();
        var stored = await db.ConnectLinks.Select(l => l.TokenHash).ToListAsync(Ct);
        Assert.DoesNotContain(stored, h => System.Text.Encoding.UTF8.GetString(h).Contains(token));
        var keys = await db.TenantApiKeys.ToListAsync(Ct);
        Assert.All(keys, k => Assert.DoesNotContain(ApiKey[10..], Convert.ToBase64String(k.KeyHash) + k.Prefix));
    }

    [Fact]
    public async Task TenantCannotRevokeAnotherTenantsLink()
    {
        var (_, otherKey, otherLink) = await SeedTenantAsync("fleet", "The Fleet");
        var theirs = Assert.Single(await GetJsonAsync<JsonElement[]>(otherKey, "/api/v1/connect-links")).GetProperty("id").GetGuid();

        var response = await ApiClient(ApiKey).DeleteAsync($"/api/v1/connect-links/{theirs}", Ct);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await NewUser().Browser.GetAsync($"/connect/{otherLink}", Ct)).StatusCode);
    }

    [Fact]
    public async Task UnknownConnectLinkShowsAPageNotAnError()
    {
        var response = await NewUser().Browser.GetAsync("/connect/not-a-link", Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("This connect link is not valid", await response.Content.ReadAsStringAsync(Ct));
    }
}
