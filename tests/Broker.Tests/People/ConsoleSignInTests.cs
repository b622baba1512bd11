using System.Net;
using System.Net.Http.Json;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.People;

/// <summary>Console sessions through a real OpenID provider: who becomes what, how long it lasts, how it ends.</summary>
public sealed class ConsoleSignInTests(PostgresServer postgres) : ConsoleTestBase(postgres)
{

    protected override Dictionary<string, string?> BrokerSettings => new(base.BrokerSettings)
    {
        ["Console:SignInPerMinute"] = "5",
    };

    public override async ValueTask InitializeAsync()
    {
        Provider.Clients[0] = Provider.Clients[0] with
        {
            RedirectUris = ["http://localhost/signin-oidc", "https://localhost/signin-oidc"],
            PostLogoutRedirectUris = ["http://localhost/signout-callback-oidc", "https://localhost/signout-callback-oidc"],
        };
        await base.InitializeAsync();
    }

    private sealed record Member(Guid Id, string Email, string Role, bool Joined);

    [Fact]
    public async Task OperatorNamedByGroupGetsAnHttpOnlyLaxSessionThatEnds()
    {
        var person = new ConsolePerson(Broker);
        var start = await person.Browser.GetAsync("/console/signin/start?returnUrl=%2Fconsole", Ct);
        var back = await Provider.SignInAsync(start.Headers.Location!, "operator@example.com", "operator-demo", Ct, new CookieContainer());
        var landed = await person.Browser.SendAsync(back, Ct);

        var cookie = Assert.Single(landed.Headers.GetValues("Set-Cookie"), c => c.StartsWith("broker.console="));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("expires=", cookie, StringComparison.OrdinalIgnoreCase); // a browser-session cookie
        var home = await person.Browser.GetStringAsync("/console", Ct);
        Assert.Contains("operator@example.com (operator)", home);
        Assert.Contains("New tenant", home);
        await using (var db = Broker.CreateDbContext())
        {
            var signedIn = await db.AuditEvents.SingleAsync(e => e.Action == "person.signed_in", Ct);
            Assert.Equal(("person:operator@example.com", "operator"), (signedIn.Actor, signedIn.Detail));
            Assert.Equal(Provider.Accounts.Single(a => a.Email == "operator@example.com").Sub, (await db.People.SingleAsync(Ct)).Subject);
        }

        Time.Advance(TimeSpan.FromHours(8) + TimeSpan.FromMinutes(1));
        var expired = await person.Browser.GetAsync("/console", Ct);
        Assert.Equal(HttpStatusCode.Redirect, expired.StatusCode);
        Assert.StartsWith("/console/signin", expired.Headers.Location!.OriginalString); // relative: never built from the Host header
    }

    [Fact]
    public async Task OverHttpsTheSessionCookieIsSecure()
    {
        var https = Broker.CreateClient(new() { BaseAddress = new Uri("https://localhost"), AllowAutoRedirect = false, HandleCookies = true });
        var person = new ConsolePerson(Broker, https);
        var start = await https.GetAsync("/console/signin/start", Ct);
        Assert.All(start.Headers.GetValues("Set-Cookie"), c => Assert.Contains("secure", c, StringComparison.OrdinalIgnoreCase));

        var back = await Provider.SignInAsync(start.Headers.Location!, "operator@example.com", "operator-demo", Ct, new CookieContainer());
        Assert.Equal("https://localhost/signin-oidc", back.RequestUri!.GetLeftPart(UriPartial.Path)); // the callback the broker asked for
        var landed = await https.SendAsync(back, Ct);

        var cookie = Assert.Single(landed.Headers.GetValues("Set-Cookie"), c => c.StartsWith("broker.console="));
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("operator@example.com", await person.Browser.GetStringAsync("/console", Ct));
    }

    [Fact]
    public async Task InvitationBindsAtFirstSignInAndRemovingItTakesEffectAtOnce()
    {
        var invited = await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/members", new { email = "alice-admin@example.com", role = "admin" }, Ct);
        var member = (await invited.Content.ReadFromJsonAsync<Member>(Ct))!;
        Assert.False(member.Joined);

        var alice = await new ConsolePerson(Broker).SignInAsync(Provider, "alice-admin@example.com", "alice-admin-demo");
        var page = await alice.Browser.GetStringAsync("/console/tenants/household", Ct);
        Assert.Contains("your role: admin", page);
        Assert.Contains("New API key", page);
        var members = (await ApiClient(ApiKey).GetFromJsonAsync<Member[]>("/api/v1/members", Ct))!;
        Assert.True(Assert.Single(members).Joined);

        Assert.Equal(HttpStatusCode.NoContent, (await ApiClient(ApiKey).DeleteAsync($"/api/v1/members/{member.Id}", Ct)).StatusCode);
        // Her session ended with the membership (People/ConsoleSessionTests); signed in again, the tenant is gone for her.
        Assert.Equal(HttpStatusCode.Redirect, (await alice.Browser.GetAsync("/console/tenants/household", Ct)).StatusCode);
        var again = await new ConsolePerson(Broker).SignInAsync(Provider, "alice-admin@example.com", "alice-admin-demo");
        Assert.Equal(HttpStatusCode.NotFound, (await again.Browser.GetAsync("/console/tenants/household", Ct)).StatusCode);
    }

    [Fact]
    public async Task PersonWithoutAnyTenantIsToldWhoToAsk()
    {
        var bob = await new ConsolePerson(Broker).SignInAsync(Provider, "bob-admin@example.com", "bob-admin-demo");

        var home = await bob.Browser.GetStringAsync("/console", Ct);
        Assert.Contains("no tenant has invited you yet", home);
        Assert.DoesNotContain("The Household", home);
        Assert.DoesNotContain("New tenant", home);
    }

    [Fact]
    public async Task SignOutEndsTheSessionHereAndAtTheProvider()
    {
        var cookies = new CookieContainer();
        var person = new ConsolePerson(Broker);
        var start = await person.Browser.GetAsync("/console/signin/start", Ct);
        await person.Browser.SendAsync(await Provider.SignInAsync(start.Headers.Location!, "operator@example.com", "operator-demo", Ct, cookies), Ct);

        var signOut = await person.PostFormAsync("/console/signout");
        Assert.Equal(HttpStatusCode.Redirect, signOut.StatusCode);
        var endSession = signOut.Headers.Location!;
        Assert.StartsWith(Provider.Issuer, endSession.ToString());
        Assert.Contains("id_token_hint=", endSession.Query);
        Assert.Contains("broker.console=;", string.Join(';', signOut.Headers.GetValues("Set-Cookie")).Replace(" ", ""));
        var back = await Provider.SignOutAsync(endSession, Ct, cookies);
        var landed = await person.Browser.GetAsync(back!.PathAndQuery, Ct);
        Assert.Equal("/console/signed-out", landed.Headers.Location?.OriginalString);
        Assert.Equal(HttpStatusCode.Redirect, (await person.Browser.GetAsync("/console", Ct)).StatusCode);

        // The provider forgot the session too: signing in again shows its login form.
        var again = await person.Browser.GetAsync("/console/signin/start", Ct);
        var withoutPassword = async () => await Provider.SignInAsync(again.Headers.Location!, "operator@example.com", "wrong-password", Ct, cookies);
        await Assert.ThrowsAnyAsync<Exception>(withoutPassword);
    }

    [Fact]
    public async Task SignInStartsAreRateLimitedPerAddress()
    {
        var browser = Broker.CreateBrowser();
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 6; i++)
        {
            statuses.Add((await browser.GetAsync("/console/signin/start", Ct)).StatusCode);
        }
        Assert.Equal([.. Enumerable.Repeat(HttpStatusCode.Redirect, 5), HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task ConsoleFormWithoutTheAntiforgeryTokenIsRefused()
    {
        var op = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");

        var forged = await op.Browser.PostAsync("/console/tenants", new FormUrlEncodedContent([new("slug", "forged"), new("name", "Forged")]), Ct);

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        await using var db = Broker.CreateDbContext();
        Assert.False(await db.Tenants.AnyAsync(t => t.Slug == "forged", Ct));
    }

}
