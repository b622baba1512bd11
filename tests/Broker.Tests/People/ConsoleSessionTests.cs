using System.Net;
using System.Net.Http.Json;
using Broker.Tests.Infrastructure;
using Microsoft.AspNetCore.Mvc.Testing.Handlers;
using Microsoft.EntityFrameworkCore;

namespace Broker.Tests.People;

/// <summary>
/// Who a console session belongs to, and when it ends: invitations bind only to emails the provider verified, sessions
/// live in Postgres and end at sign-out, at removal and when configuration stops naming an operator, on every replica,
/// whoever holds a copy of the cookie; the return URL after sign-in stays on this site.
/// </summary>
public sealed class ConsoleSessionTests(PostgresServer postgres) : ConsoleTestBase(postgres)
{

    
    public override async ValueTask InitializeAsync()
    {
        // Mallory's provider account claims other people's emails; the provider passes them on without vouching for them.
        Provider.Accounts.Add(new("9d2f6a11-0c4e-4b8f-a7d3-5e6b1c2d3e41", "victim@example.com", "Mallory", [], "mallory-demo", EmailVerified: false));
        Provider.Accounts.Add(new("9d2f6a11-0c4e-4b8f-a7d3-5e6b1c2d3e42", "later@example.com", "Mallory again", [], "mallory-demo", EmailVerified: false));
        Provider.Accounts.Add(new("1a2b3c4d-0000-4000-8000-00000000aa01", "later.verified@example.com", "Vera", [], "vera-demo"));
        await base.InitializeAsync();
    }

    private sealed record Member(Guid Id, string Email, string Role, bool Joined);

    [Fact]
    public async Task AnInvitationNeverJoinsSomeoneWhoseEmailTheProviderDidNotVerifyWhicheverCameFirst()
    {
        // Sign-in first, invitation second.
        var mallory = await new ConsolePerson(Broker).SignInAsync(Provider, "victim@example.com", "mallory-demo");
        var invited = await (await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/members", new { email = "victim@example.com", role = "admin" }, Ct))
            .Content.ReadFromJsonAsync<Member>(Ct);
        Assert.False(invited!.Joined);
        Assert.Equal(HttpStatusCode.NotFound, (await mallory.Browser.GetAsync("/console/tenants/household", Ct)).StatusCode);

        // Invitation first, sign-in second.
        await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/members", new { email = "later@example.com", role = "admin" }, Ct);
        var again = await new ConsolePerson(Broker).SignInAsync(Provider, "later@example.com", "mallory-demo");
        Assert.Equal(HttpStatusCode.NotFound, (await again.Browser.GetAsync("/console/tenants/household", Ct)).StatusCode);

        var members = (await ApiClient(ApiKey).GetFromJsonAsync<Member[]>("/api/v1/members", Ct))!;
        Assert.All(members, m => Assert.False(m.Joined, m.Email));
        // The one whose provider vouches for the email joins, as before.
        await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/members", new { email = "later.verified@example.com", role = "member" }, Ct);
        var vera = await new ConsolePerson(Broker).SignInAsync(Provider, "later.verified@example.com", "vera-demo");
        Assert.Equal(HttpStatusCode.OK, (await vera.Browser.GetAsync("/console/tenants/household", Ct)).StatusCode);
    }

    [Fact]
    public async Task ACopiedSessionCookieStopsWorkingAtSignOutOnEveryReplica()
    {
        var person = await NewPerson(out var jar).SignInAsync(Provider, "operator@example.com", "operator-demo");
        var cookie = SessionCookie(jar);
        await using var replicaB = new BrokerApplication(Broker.ConnectionString, Simulator, BrokerSettings, Time);
        Assert.Equal(HttpStatusCode.OK, (await WithCookie(replicaB, cookie).GetAsync("/console", Ct)).StatusCode);

        Assert.Equal(HttpStatusCode.Redirect, (await person.PostFormAsync("/console/signout")).StatusCode);

        Assert.Equal(HttpStatusCode.Redirect, (await WithCookie(Broker, cookie).GetAsync("/console", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await WithCookie(replicaB, cookie).GetAsync("/console", Ct)).StatusCode);
        await using var db = Broker.CreateDbContext();
        Assert.Empty(db.ConsoleSessions);
    }

    [Fact]
    public async Task RemovingAMemberEndsTheirSessionAtOnce()
    {
        var invited = await (await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/members", new { email = "alice-admin@example.com", role = "admin" }, Ct))
            .Content.ReadFromJsonAsync<Member>(Ct);
        var alice = await new ConsolePerson(Broker).SignInAsync(Provider, "alice-admin@example.com", "alice-admin-demo");
        var formToken = await alice.FormTokenAsync("/console/tenants/household");

        Assert.Equal(HttpStatusCode.NoContent, (await ApiClient(ApiKey).DeleteAsync($"/api/v1/members/{invited!.Id}", Ct)).StatusCode);

        var home = await alice.Browser.GetAsync("/console", Ct);
        Assert.Equal(HttpStatusCode.Redirect, home.StatusCode);
        Assert.StartsWith("/console/signin", home.Headers.Location!.OriginalString);
        // The page she still has open cannot act either.
        var act = await alice.Browser.PostAsync("/console/tenants/household/connect-links", new FormUrlEncodedContent([formToken, new("label", "after removal")]), Ct);
        Assert.NotEqual(HttpStatusCode.OK, act.StatusCode);
        await using var db = Broker.CreateDbContext();
        Assert.False(await db.ConnectLinks.AnyAsync(l => l.Label == "after removal", Ct));
    }

    [Fact]
    public async Task AnOperatorDroppedFromConfigurationLosesTheSessionAtTheNextRequest()
    {
        await NewPerson(out var jar).SignInAsync(Provider, "operator@example.com", "operator-demo");
        var cookie = SessionCookie(jar);
        // Another replica (or this one after a restart) whose configuration no longer names the operators' group.
        var withoutOperators = new Dictionary<string, string?>(BrokerSettings) { ["Console:Operators:Groups:0"] = "someone-else" };
        await using var replicaB = new BrokerApplication(Broker.ConnectionString, Simulator, withoutOperators, Time);

        var there = await WithCookie(replicaB, cookie).GetAsync("/console/operator", Ct);

        Assert.Equal(HttpStatusCode.Redirect, there.StatusCode);
        Assert.StartsWith("/console/signin", there.Headers.Location!.OriginalString);
        Assert.Equal(HttpStatusCode.Redirect, (await WithCookie(Broker, cookie).GetAsync("/console", Ct)).StatusCode); // ended everywhere
    }

    /// <summary>Return URLs as a browser would read them: it drops tabs and line breaks and reads a backslash as a slash.</summary>
    [Theory]
    [InlineData("/console/tenants/household", "/console/tenants/household")]
    [InlineData("/console/audit?before=10", "/console/audit?before=10")]
    [InlineData("/\t/evil.example/path", "/console")]
    [InlineData("/\n/evil.example/path", "/console")]
    [InlineData("/\r\n/evil.example", "/console")]
    [InlineData("/\t\\evil.example", "/console")]
    [InlineData("/\\evil.example", "/console")]
    [InlineData("\\\\evil.example", "/console")]
    [InlineData("\\/evil.example", "/console")]
    [InlineData("//evil.example", "/console")]
    [InlineData("/ /evil.example", "/ /evil.example")]
    [InlineData(" //evil.example", "/console")]
    [InlineData("https://evil.example/", "/console")]
    [InlineData("javascript:alert(1)", "/console")]
    [InlineData("~/console", "/console")]
    public async Task AfterSignInTheBrowserGoesOnlyToAPathOnThisSite(string returnUrl, string expected)
    {
        var person = new ConsolePerson(Broker);
        var start = await person.Browser.GetAsync($"/console/signin/start?returnUrl={Uri.EscapeDataString(returnUrl)}", Ct);
        if (start.StatusCode == HttpStatusCode.BadRequest)
        {
            Assert.Equal("/console", expected); // refused at the door (control characters): nobody is sent anywhere
            return;
        }
        var back = await Provider.SignInAsync(start.Headers.Location!, "operator@example.com", "operator-demo", Ct, new CookieContainer());
        var landed = await person.Browser.SendAsync(back, Ct);

        Assert.Equal(HttpStatusCode.Redirect, landed.StatusCode);
        Assert.Equal(expected, landed.Headers.Location!.OriginalString);
    }

    /// <summary>The rule itself, for values that reach it decoded (the front door refuses them earlier; this is the second wall).</summary>
    [Theory]
    [InlineData("/\t/evil.example")]
    [InlineData("/\n/evil.example")]
    [InlineData("/\r/evil.example")]
    [InlineData("/\\evil.example")]
    [InlineData("//evil.example")]
    [InlineData("/\u0000/evil.example")]
    [InlineData("https://evil.example")]
    [InlineData("")]
    [InlineData("/")]
    public void TheReturnUrlRuleSendsAnythingButAPlainLocalPathToTheConsole(string returnUrl) =>
        Assert.Equal("/console", global::Broker.Admin.ConsoleEndpoints.LocalOnly(returnUrl));

    [Fact]
    public async Task TheSignInPageNeverLinksOffSiteWhateverTheReturnUrl()
    {
        foreach (var returnUrl in new[] { "/%09/evil.example", "%2F%5Cevil.example", "/%5C/evil.example", "https:%2F%2Fevil.example" })
        {
            var page = await Broker.CreateBrowser().GetAsync($"/console/signin?returnUrl={returnUrl}", Ct);
            Assert.True(page.StatusCode is HttpStatusCode.OK or HttpStatusCode.BadRequest, $"{returnUrl}: {page.StatusCode}");
            Assert.DoesNotContain("evil.example", await page.Content.ReadAsStringAsync(Ct));
        }
    }

    /// <summary>A person whose cookie jar the test can read, to copy the session cookie as someone who stole it would.</summary>
    private ConsolePerson NewPerson(out CookieContainer cookies)
    {
        cookies = new CookieContainer();
        return new ConsolePerson(Broker, Broker.CreateDefaultClient(new CookieContainerHandler(cookies)));
    }

    private static string SessionCookie(CookieContainer cookies) =>
        $"broker.console={cookies.GetCookies(new Uri("http://localhost/console"))["broker.console"]?.Value ?? throw new InvalidOperationException("No session cookie.")}";

    private static HttpClient WithCookie(BrokerApplication broker, string cookie)
    {
        var client = broker.CreateClient(new() { AllowAutoRedirect = false, HandleCookies = false });
        client.DefaultRequestHeaders.Add("Cookie", cookie);
        return client;
    }
}
