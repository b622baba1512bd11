using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Broker.Accounts;
using Broker.Tests.Infrastructure;
using Broker.Tests.People;
using Microsoft.AspNetCore.Routing;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Security;

/// <summary>
/// Every state-changing route of the console and the connect pages, found by walking the app's own endpoints (so a
/// route added later is walked too): without the page's form token, or with another person's, it is refused and changes
/// nothing, whether it reads form fields or not; with the token it works.
/// </summary>
public sealed partial class BrowserFormTokenTests(PostgresServer postgres) : ConsoleTestBase(postgres)
{

    

    /// <summary>Every field any browser form has; extra ones are ignored by the routes that do not read them.</summary>
    private static readonly KeyValuePair<string, string>[] Fields =
    [
        new("slug", "walked"), new("name", "Walked"), new("label", "walked"), new("email", "walk@example.com"), new("role", "member"),
        new("scope", "metrics"), new("region", "na"), new("missing", "true"),
    ];

    [Fact]
    public async Task EveryStateChangingConsoleAndConnectRouteNeedsThePagesFormToken()
    {
        var values = await SeedAsync();
        var op = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");
        var alice = await new ConsolePerson(Broker).SignInAsync(Provider, "alice-admin@example.com", "alice-admin-demo");
        var foreignToken = await alice.FormTokenAsync();
        var routes = StateChangingRoutes(values);
        Assert.True(routes.Count >= 15, $"only {routes.Count} routes found: {string.Join(", ", routes)}");

        var before = await DatabaseSnapshot.TakeAsync(Broker.ConnectionString, Ct);
        var failures = new List<string>();
        foreach (var path in routes)
        {
            var caller = path.StartsWith("/connect/") ? NewUser().Browser : op.Browser;
            if (path.StartsWith("/connect/"))
            {
                await caller.GetAsync($"/connect/{LinkToken}", Ct); // the browser has the antiforgery cookie, as one that opened the page
            }
            HttpContent?[] attempts =
            [
                null,
                new FormUrlEncodedContent(Fields),
                new FormUrlEncodedContent([.. Fields, foreignToken]),
                new StringContent("{}", System.Text.Encoding.UTF8, "application/json"),
            ];
            foreach (var content in attempts)
            {
                var response = await caller.PostAsync(path, content, Ct);
                // 415: a form route told JSON is not a form (nothing runs either way).
                if (response.StatusCode is not (HttpStatusCode.BadRequest or HttpStatusCode.UnsupportedMediaType))
                {
                    failures.Add($"POST {path} ({content?.Headers.ContentType?.MediaType ?? "no body"}) without its token: {(int)response.StatusCode}");
                }
                // A browser's form without its token is told why, in the same words whether or not the route binds fields.
                else if (content is FormUrlEncodedContent && !(await response.Content.ReadAsStringAsync(Ct)).Contains("This form has expired"))
                {
                    failures.Add($"POST {path} (form) without its token does not say the form expired");
                }
            }
        }
        var after = await DatabaseSnapshot.TakeAsync(Broker.ConnectionString, Ct);
        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.True(before.SequenceEqual(after), DatabaseSnapshot.Difference(before, after));

        // The same routes with the page's token are live: what was refused above was the missing token, not the route.
        foreach (var path in routes.OrderBy(p => p.EndsWith("/signout")))
        {
            var caller = path.StartsWith("/connect/") ? NewUser() : null;
            var token = caller is null
                ? await op.FormTokenAsync()
                : KeyValuePair.Create("__RequestVerificationToken", TeslaUser.Hidden(await caller.Browser.GetStringAsync($"/connect/{LinkToken}", Ct), "__RequestVerificationToken"));
            var response = await (caller?.Browser ?? op.Browser).PostAsync(path, new FormUrlEncodedContent([.. Fields, token]), Ct);
            // Reached the handler: whatever it answers (a 409 for partner registration without a domain), it is not the token refusal.
            var body = await response.Content.ReadAsStringAsync(Ct);
            Assert.True((int)response.StatusCode < 500 && !body.Contains("security token"), $"POST {path} with its token: {(int)response.StatusCode} {body}");
        }
    }

    private sealed record Seeded(Guid Account, Guid Link, Guid Member, Guid ApiKey, Guid OperatorKey);

    private async Task<Seeded> SeedAsync()
    {
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        var account = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts")).Id;
        await ApiClient(ApiKey).PostAsJsonAsync("/api/v1/members", new { email = "alice-admin@example.com", role = "member" }, Ct);
        await ApiClient(BrokerApplication.OperatorToken).PostAsJsonAsync("/api/v1/operator/keys", new { label = "walked" }, Ct);
        await using var db = Broker.CreateDbContext();
        return new Seeded(account,
            await db.ConnectLinks.Where(l => l.TenantId == TenantId).Select(l => l.Id).FirstAsync(Ct),
            await db.Memberships.Select(m => m.Id).SingleAsync(Ct),
            await db.TenantApiKeys.Select(k => k.Id).FirstAsync(Ct),
            await db.OperatorApiKeys.Select(k => k.Id).SingleAsync(Ct));
    }

    /// <summary>The app's own route table: every /console and /connect pattern that accepts a method other than GET, filled in.</summary>
    private List<string> StateChangingRoutes(Seeded values)
    {
        var routes = new List<string>();
        foreach (var endpoint in Broker.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var pattern = "/" + endpoint.RoutePattern.RawText!.TrimStart('/');
            var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? [];
            if (!(pattern.StartsWith("/console") || pattern.StartsWith("/connect")) || methods.All(m => m is "GET" or "HEAD"))
            {
                continue;
            }
            routes.Add(Parameter().Replace(pattern, m => (m.Groups["name"].Value, pattern) switch
            {
                ("slug", _) => "household",
                ("token", _) => LinkToken,
                ("id", var p) when p.Contains("/accounts/") => values.Account.ToString(),
                ("id", var p) when p.Contains("/connect-links/") => values.Link.ToString(),
                ("id", var p) when p.Contains("/members/") => values.Member.ToString(),
                ("id", var p) when p.Contains("/api-keys/") => values.ApiKey.ToString(),
                ("id", var p) when p.Contains("/operator/keys/") => values.OperatorKey.ToString(),
                ("vin", _) => "5YJ3E1EA7PF381204",   // alice's car: a real target, so only the missing token stops the post
                ("name", var p) when p.Contains("/commands/") => "charge_stop",
                var (name, p) => throw new InvalidOperationException($"The walk does not know what to put in {{{name}}} of {p}: teach it."),
            }));
        }
        return routes;
    }

    [GeneratedRegex(@"\{(?<name>[a-z]+)(:[a-z]+)?\}")]
    private static partial Regex Parameter();
}
