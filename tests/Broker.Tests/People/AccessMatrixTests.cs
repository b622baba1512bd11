using System.Net;
using System.Net.Http.Headers;
using Broker.Accounts;
using Broker.People;
using Broker.Tenants;
using Broker.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.People;

/// <summary>
/// Every console page and API endpoint × {anonymous, member of tenant A, member of tenant B, tenant A's
/// API key, operator}: who gets 200, 302 (to sign-in), 401, 403 or 404. People sign in through a real,
/// independent OpenID provider (npm oidc-provider); keys go through the real bearer handlers.
/// </summary>
public sealed class AccessMatrixTests(PostgresServer postgres) : ConsoleTestBase(postgres)
{

    

    private enum Who { Anonymous, MemberA, MemberB, KeyA, Operator }

    // Expected status per caller, in the order of Who.
    private sealed record Row(HttpMethod Method, string Path, int[] Expected, KeyValuePair<string, string>[]? Form = null);

    [Fact]
    public async Task EveryPageAndEndpointAnswersEachCallerAsExpectedAndNeverLeaksAnotherTenant()
    {
        var (_, keyB, linkB) = await SeedTenantAsync("fleet", "The Fleet");
        await NewUser().ConnectAsync(LinkToken, "alice@example.com", "alice-demo");
        await NewUser().ConnectAsync(linkB, "bob@example.com", "bob-demo");
        var accA = Assert.Single(await GetJsonAsync<AccountResponse[]>(ApiKey, "/api/v1/accounts")).Id;
        var accB = Assert.Single(await GetJsonAsync<AccountResponse[]>(keyB, "/api/v1/accounts")).Id;
        await using (var scope = Broker.Services.CreateAsyncScope())
        {
            var provisioning = scope.ServiceProvider.GetRequiredService<TenantProvisioning>();
            await using var db = Broker.CreateDbContext();
            var tenantB = await db.Tenants.SingleAsync(t => t.Slug == "fleet", Ct);
            await provisioning.InviteMemberAsync(TenantId, "alice-admin@example.com", TenantRole.Member, Ct);
            await provisioning.InviteMemberAsync(tenantB.Id, "bob-admin@example.com", TenantRole.Member, Ct);
        }
        var memberA = await new ConsolePerson(Broker).SignInAsync(Provider, "alice-admin@example.com", "alice-admin-demo");
        var memberB = await new ConsolePerson(Broker).SignInAsync(Provider, "bob-admin@example.com", "bob-admin-demo");
        var operatorPerson = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");

        const int ok = 200, signIn = 302, redirect = 302, unauthorized = 401, forbidden = 403, notFound = 404, created = 201;
        var get = HttpMethod.Get;
        var post = HttpMethod.Post;
        Row[] console =
        [
            new(get, "/console", [signIn, ok, ok, signIn, ok]),
            new(get, "/console/tenants/household", [signIn, ok, notFound, signIn, ok]),
            new(get, "/console/tenants/fleet", [signIn, notFound, ok, signIn, ok]),
            new(get, "/console/tenants/no-such-tenant", [signIn, notFound, notFound, signIn, notFound]),
            new(get, $"/console/tenants/household/accounts/{accA}", [signIn, ok, notFound, signIn, ok]),
            new(get, $"/console/tenants/household/accounts/{accB}", [signIn, notFound, notFound, signIn, notFound]),
            new(get, $"/console/tenants/fleet/accounts/{accB}", [signIn, notFound, ok, signIn, ok]),
            new(get, "/console/audit", [signIn, forbidden, forbidden, signIn, ok]),
            new(get, "/console/operator", [signIn, forbidden, forbidden, signIn, ok]),
            new(post, "/console/tenants", [signIn, forbidden, forbidden, signIn, redirect], [new("slug", "made-in-matrix"), new("name", "Matrix")]),
            new(post, "/console/tenants/household/connect-links", [signIn, redirect, notFound, signIn, redirect], [new("label", "matrix")]),
            new(post, "/console/tenants/household/members", [signIn, forbidden, notFound, signIn, redirect], [new("email", "new@example.com"), new("role", "Member")]),
            new(post, "/console/tenants/household/api-keys", [signIn, forbidden, notFound, signIn, redirect], [new("label", "matrix")]),
            new(post, "/console/tenants/household/budget", [signIn, forbidden, notFound, signIn, redirect], [new("budget", "25")]),
            new(post, $"/console/tenants/household/accounts/{accA}/reconnect-link", [signIn, redirect, notFound, signIn, redirect]),
            new(post, "/console/operator/keys", [signIn, forbidden, forbidden, signIn, redirect], [new("label", "matrix")]),
            new(get, $"/console/tenants/household/accounts/{accA}", [signIn, ok, notFound, signIn, ok]),
            new(get, $"/console/tenants/household/accounts/{accA}/revoke", [signIn, forbidden, notFound, signIn, ok]),
            new(get, $"/console/tenants/fleet/accounts/{accA}/revoke", [signIn, notFound, forbidden, signIn, notFound]),
            new(post, $"/console/tenants/fleet/accounts/{accA}/revoke", [signIn, notFound, forbidden, signIn, notFound]),
            new(post, $"/console/tenants/household/accounts/{accA}/revoke", [signIn, forbidden, notFound, signIn, redirect]),
        ];
        Row[] api =
        [
            new(get, "/api/v1/accounts", [unauthorized, unauthorized, unauthorized, ok, forbidden]),
            new(get, $"/api/v1/accounts/{accA}", [unauthorized, unauthorized, unauthorized, ok, forbidden]),
            new(get, $"/api/v1/accounts/{accB}", [unauthorized, unauthorized, unauthorized, notFound, forbidden]),
            new(get, "/api/v1/tenants/household/accounts", [unauthorized, unauthorized, unauthorized, ok, ok]),
            new(get, "/api/v1/tenants/fleet/accounts", [unauthorized, unauthorized, unauthorized, notFound, ok]),
            new(get, "/api/v1/tenants/no-such-tenant/accounts", [unauthorized, unauthorized, unauthorized, notFound, notFound]),
            new(get, $"/api/v1/tenants/household/accounts/{accB}", [unauthorized, unauthorized, unauthorized, notFound, notFound]),
            new(get, "/api/v1/tenants/household/connect-links", [unauthorized, unauthorized, unauthorized, ok, ok]),
            new(get, "/api/v1/tenants/household/members", [unauthorized, unauthorized, unauthorized, ok, ok]),
            new(get, "/api/v1/tenants/household/api-keys", [unauthorized, unauthorized, unauthorized, ok, ok]),
            new(get, "/api/v1/tenants/household/audit", [unauthorized, unauthorized, unauthorized, ok, ok]),
            new(get, "/api/v1/tenants/household/policy", [unauthorized, unauthorized, unauthorized, ok, ok]),
            new(get, "/api/v1/tenants/fleet/audit", [unauthorized, unauthorized, unauthorized, notFound, ok]),
            new(get, "/api/v1/tenants", [unauthorized, unauthorized, unauthorized, forbidden, ok]),
            new(get, "/api/v1/operator/audit", [unauthorized, unauthorized, unauthorized, forbidden, ok]),
            new(get, "/api/v1/operator/keys", [unauthorized, unauthorized, unauthorized, forbidden, ok]),
            new(get, "/api/v1/partner", [unauthorized, unauthorized, unauthorized, forbidden, ok]),
            new(post, $"/api/v1/tenants/household/accounts/{accA}/reconnect-links", [unauthorized, unauthorized, unauthorized, created, created]),
            new(post, $"/api/v1/tenants/fleet/accounts/{accB}/revoke", [unauthorized, unauthorized, unauthorized, notFound, ok]),
        ];

        var people = new Dictionary<Who, ConsolePerson> { [Who.MemberA] = memberA, [Who.MemberB] = memberB, [Who.Operator] = operatorPerson };
        var mismatches = new List<string>();
        foreach (var row in console)
        {
            foreach (var who in Enum.GetValues<Who>())
            {
                var response = people.TryGetValue(who, out var person)
                    ? row.Method == post ? await person.PostFormAsync(row.Path, row.Form ?? []) : await person.Browser.GetAsync(row.Path, Ct)
                    : await Send(row, who == Who.KeyA ? ApiKey : null);
                var expected = row.Expected[(int)who];
                if ((int)response.StatusCode != expected
                    || (expected == signIn && who is Who.Anonymous or Who.KeyA && response.Headers.Location?.OriginalString.Contains("/console/signin?returnUrl=") != true))
                {
                    mismatches.Add($"{row.Method} {row.Path} as {who}: expected {expected}, got {(int)response.StatusCode} {response.Headers.Location}");
                }
            }
        }
        foreach (var row in api)
        {
            foreach (var who in Enum.GetValues<Who>())
            {
                var response = who switch
                {
                    Who.KeyA => await Send(row, ApiKey),
                    Who.Operator => await Send(row, BrokerApplication.OperatorToken),
                    Who.Anonymous => await Send(row, null),
                    _ => row.Method == post ? await people[who].Browser.PostAsync(row.Path, null, Ct) : await people[who].Browser.GetAsync(row.Path, Ct),
                };
                if ((int)response.StatusCode != row.Expected[(int)who])
                {
                    mismatches.Add($"{row.Method} {row.Path} as {who}: expected {row.Expected[(int)who]}, got {(int)response.StatusCode}");
                }
                if (response.StatusCode == HttpStatusCode.OK && who != Who.Operator)
                {
                    var body = await response.Content.ReadAsStringAsync(Ct);
                    if (body.Contains(accB.ToString()) || body.Contains("bob@example.com"))
                    {
                        mismatches.Add($"{row.Method} {row.Path} as {who}: shows tenant B's account");
                    }
                }
            }
        }
        Assert.True(mismatches.Count == 0, string.Join('\n', mismatches));

        // An id from another tenant answers exactly like an id that does not exist.
        var foreign = await (await Send(new(get, $"/api/v1/accounts/{accB}", []), ApiKey)).Content.ReadAsStringAsync(Ct);
        var unknown = await (await Send(new(get, $"/api/v1/accounts/{Guid.CreateVersion7()}", []), ApiKey)).Content.ReadAsStringAsync(Ct);
        Assert.Equal(Normalize(unknown), Normalize(foreign));
        var foreignTenant = await (await Send(new(get, "/api/v1/tenants/fleet/accounts", []), ApiKey)).Content.ReadAsStringAsync(Ct);
        var noTenant = await (await Send(new(get, "/api/v1/tenants/no-such-tenant/accounts", []), ApiKey)).Content.ReadAsStringAsync(Ct);
        Assert.Equal(Normalize(noTenant), Normalize(foreignTenant));
    }

    private async Task<HttpResponseMessage> Send(Row row, string? bearer)
    {
        var client = Broker.CreateBrowser();
        if (bearer is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        }
        using var request = new HttpRequestMessage(row.Method, row.Path);
        if (row.Method == HttpMethod.Post)
        {
            request.Content = row.Form is null ? null : new FormUrlEncodedContent(row.Form);
        }
        return await client.SendAsync(request, Ct);
    }

    /// <summary>Problem bodies carry a per-request trace id; everything else must match.</summary>
    private static string Normalize(string problem) => System.Text.RegularExpressions.Regex.Replace(problem, "\"traceId\":\"[^\"]*\"", "");

}
