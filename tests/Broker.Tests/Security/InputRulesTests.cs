using System.Net;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json;
using System.Security.Cryptography;
using Broker.Hosting;
using Broker.Tests.Infrastructure;
using Broker.Tests.People;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Broker.Tests.Security;

/// <summary>
/// Classes of input, not instances: control characters in every text field of every API body and console form, in any
/// part of the address; roles and scopes outside their names. Each is a 400 that writes nothing, in any field.
/// </summary>
public sealed class InputRulesTests(PostgresServer postgres) : ConsoleTestBase(postgres)
{

    

    /// <summary>
    /// NUL (Postgres 22021), line breaks (headers, logs, the slug's old <c>$</c>), escape, DEL and C1; and the invisible ones
    /// that change how text reads: bidi override (U+202E), line separator, zero-width space, byte-order mark.
    /// </summary>
    private static readonly string[] Controls = ["\0", "\n", "\r\n", "\u001b[31m", "\u007f", "\u0085", "\t", "\u202E", "\u2028", "\u200B", "\uFEFF"];

    /// <summary>Every JSON body of the API with each of its text fields; the other fields valid, so the control character is the only fault.</summary>
    private static IEnumerable<(string Path, string Field, Func<string, object> Body)> ApiFields() =>
    [
        ("/api/v1/tenants", "slug", v => new { slug = "new-tenant" + v, name = "New" }),
        ("/api/v1/tenants", "name", v => new { slug = "new-tenant", name = "New" + v }),
        ("/api/v1/connect-links", "label", v => new { label = "Ann" + v + "'s cars" }),
        ("/api/v1/connect-links", "region", v => new { label = "Chen", region = "cn" + v }),
        ("/api/v1/api-keys", "label", v => new { label = "grafana" + v }),
        ("/api/v1/members", "email", v => new { email = "ann" + v + "@example.com", role = "member" }),
        ("/api/v1/members", "email (end)", v => new { email = "ann@example.com" + v, role = "member" }),
        ("/api/v1/operator/keys", "label", v => new { label = "automation" + v }),
        ("/api/v1/partner/registrations", "region", v => new { region = "na" + v }),
    ];

    [Fact]
    public async Task ControlCharactersInAnyApiTextFieldAreRefusedAndWriteNothing()
    {
        var op = ApiClient(BrokerApplication.OperatorToken);
        var before = await DatabaseSnapshot.TakeAsync(Broker.ConnectionString, Ct);
        var failures = new List<string>();
        foreach (var (path, field, body) in ApiFields())
        {
            foreach (var control in Controls)
            {
                var client = path.StartsWith("/api/v1/tenants") || path.StartsWith("/api/v1/operator") || path.StartsWith("/api/v1/partner") ? op : ApiClient(ApiKey);
                var response = await client.PostAsJsonAsync(path, body(control), Ct);
                if (response.StatusCode != HttpStatusCode.BadRequest)
                {
                    failures.Add($"{path} {field} with U+{(int)control[0]:X4}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
                }
            }
        }
        // PEM keys are the one multi-line field: line breaks pass, anything else is refused.
        var pem = ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportECPrivateKeyPem();
        foreach (var control in Controls.Where(c => c is not ("\n" or "\r\n" or "\t")))
        {
            var response = await op.PostAsJsonAsync("/api/v1/partner/key", new { privateKeyPem = pem.Insert(40, control) }, Ct);
            if (response.StatusCode != HttpStatusCode.BadRequest) failures.Add($"partner key with U+{(int)control[0]:X4}: {(int)response.StatusCode}");
        }

        var after = await DatabaseSnapshot.TakeAsync(Broker.ConnectionString, Ct);
        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.True(before.SequenceEqual(after), DatabaseSnapshot.Difference(before, after));
        Assert.Empty(await DatabaseSnapshot.ControlCharactersAsync(Broker.ConnectionString, Ct));
    }

    [Fact]
    public async Task ControlCharactersInAnyConsoleFieldAreRefusedAndWriteNothing()
    {
        var op = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");
        (string Path, string Field, Func<string, KeyValuePair<string, string>[]> Form)[] forms =
        [
            ("/console/tenants", "slug", v => [new("slug", "new-tenant" + v), new("name", "New")]),
            ("/console/tenants", "name", v => [new("slug", "new-tenant"), new("name", "New" + v)]),
            ("/console/tenants/household/connect-links", "label", v => [new("label", "Ann" + v)]),
            ("/console/tenants/household/connect-links", "region", v => [new("label", "Chen"), new("region", "cn" + v)]),
            ("/console/tenants/household/api-keys", "label", v => [new("label", "grafana" + v), new("scope", "metrics")]),
            ("/console/tenants/household/members", "email", v => [new("email", "ann@example.com" + v), new("role", "member")]),
            ("/console/tenants/household/budget", "budget", v => [new("budget", "25" + v)]),
            ("/console/operator/keys", "label", v => [new("label", "automation" + v)]),
            ("/console/operator/partner/registrations", "region", v => [new("region", "na" + v)]),
        ];
        var before = await DatabaseSnapshot.TakeAsync(Broker.ConnectionString, Ct, "console_sessions");
        var failures = new List<string>();
        foreach (var (path, field, form) in forms)
        {
            foreach (var control in Controls)
            {
                var response = await op.PostFormAsync(path, form(control));
                if (response.StatusCode != HttpStatusCode.BadRequest)
                {
                    failures.Add($"{path} {field} with U+{(int)control[0]:X4}: {(int)response.StatusCode}");
                }
            }
        }
        var after = await DatabaseSnapshot.TakeAsync(Broker.ConnectionString, Ct, "console_sessions");
        Assert.True(failures.Count == 0, string.Join('\n', failures));
        Assert.True(before.SequenceEqual(after), DatabaseSnapshot.Difference(before, after));
    }

    /// <summary>Found by the outside test: console forms had no length limits, so a long label reached Postgres (22001, a 500).</summary>
    [Fact]
    public async Task ConsoleFieldsLongerThanTheirColumnsAreRefusedAndWriteNothing()
    {
        var op = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");
        (string Path, Func<string, KeyValuePair<string, string>[]> Form, int Max)[] forms =
        [
            ("/console/tenants", v => [new("slug", "t" + v[1..]), new("name", "New")], 64),
            ("/console/tenants", v => [new("slug", "new-tenant"), new("name", v)], 200),
            ("/console/tenants/household/connect-links", v => [new("label", v)], 200),
            ("/console/tenants/household/api-keys", v => [new("label", v), new("scope", "metrics")], 200),
            ("/console/tenants/household/members", v => [new("email", v[..^12] + "@example.com"), new("role", "member")], 320),
            ("/console/tenants/household/budget", v => [new("budget", "1" + new string('0', v.Length - 4) + ".00")], 12),
            ("/console/operator/keys", v => [new("label", v)], 200),
        ];
        var before = await DatabaseSnapshot.TakeAsync(Broker.ConnectionString, Ct, "console_sessions");
        foreach (var (path, form, max) in forms)
        {
            var response = await op.PostFormAsync(path, form(new string('a', max + 1)));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}, {max + 1} characters: {(int)response.StatusCode}");
        }
        Assert.True(before.SequenceEqual(await DatabaseSnapshot.TakeAsync(Broker.ConnectionString, Ct, "console_sessions")));
    }

    [Theory]
    [InlineData("application/json; charset=bogus")]
    [InlineData("application/json; charset=latin1")]
    [InlineData("application/json; charset=utf-16")]
    public async Task ABodyInAnyCharsetButUtf8IsRefusedNotThrown(string contentType)
    {
        foreach (var path in new[] { "/api/v1/connect-links", "/api/v1/api-keys", "/api/v1/members" })
        {
            var content = new StringContent("{\"label\":\"x\",\"email\":\"a@example.com\"}");
            content.Headers.Remove("Content-Type");
            content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            var response = await ApiClient(ApiKey).PostAsync(path, content, Ct);
            Assert.True(response.StatusCode == HttpStatusCode.UnsupportedMediaType, $"{path} with {contentType}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task AFieldSentTwiceOrARequiredFieldLeftOutIsRefused()
    {
        var twice = new StringContent("{\"label\":\"x\",\"scope\":\"metrics\",\"scope\":\"admin\"}", System.Text.Encoding.UTF8, "application/json");
        Assert.Equal(HttpStatusCode.BadRequest, (await ApiClient(ApiKey).PostAsync("/api/v1/api-keys", twice, Ct)).StatusCode);
        (await ApiClient(ApiKey).PutAsJsonAsync("/api/v1/policy", new { wakeAfterSleepMinutes = 30 }, Ct)).EnsureSuccessStatusCode();
        Assert.Equal(HttpStatusCode.BadRequest, (await ApiClient(ApiKey).PutAsJsonAsync("/api/v1/policy", new { }, Ct)).StatusCode);
        Assert.Equal(30, (await GetJsonAsync<global::Broker.Tenants.PolicyResponse>(ApiKey, "/api/v1/policy")).WakeAfterSleepMinutes);
    }

    [Fact]
    public async Task ControlCharactersAnywhereInTheAddressAreRefused()
    {
        var op = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");
        string[] addresses =
        [
            "/console/tenants/household%01", "/console/tenants/house%0Ahold", "/console/signin?returnUrl=/console%00", "/console?x=%0D%0A",
            "/connect/abc%1B", "/api/v1/tenants/household%01/accounts", "/api/v1/accounts?before=%00", "/metrics?name%00=x",
        ];
        foreach (var address in addresses)
        {
            var browser = await op.Browser.GetAsync(address, Ct);
            Assert.True(browser.StatusCode == HttpStatusCode.BadRequest, $"{address}: {(int)browser.StatusCode}");
            var api = await ApiClient(BrokerApplication.OperatorToken).GetAsync(address, Ct);
            Assert.True(api.StatusCode == HttpStatusCode.BadRequest, $"{address} (operator key): {(int)api.StatusCode}");
        }
    }

    [Fact]
    public async Task ASlugEndingInALineBreakIsRefusedNotStored()
    {
        var op = ApiClient(BrokerApplication.OperatorToken);
        Assert.Equal(HttpStatusCode.BadRequest, (await op.PostAsJsonAsync("/api/v1/tenants", new { slug = "fleet\n", name = "Fleet" }, Ct)).StatusCode);
        Assert.Null(global::Broker.Tenants.TenantProvisioning.SlugProblem("fleet"));
        Assert.NotNull(global::Broker.Tenants.TenantProvisioning.SlugProblem("fleet\n"));
        await using var db = Broker.CreateDbContext();
        Assert.DoesNotContain(db.Tenants, t => t.Slug.StartsWith("fleet"));
    }

    [Fact]
    public async Task RolesAndScopesOutsideTheirNamesAreRefusedEverywhere()
    {
        var key = ApiClient(ApiKey);
        var op = ApiClient(BrokerApplication.OperatorToken);
        var person = await new ConsolePerson(Broker).SignInAsync(Provider, "operator@example.com", "operator-demo");
        var pat = await (await key.PostAsJsonAsync("/api/v1/members", new { email = "pat@example.com", role = "member" }, Ct)).Content.ReadFromJsonAsync<JsonElement>(Ct);
        var before = await DatabaseSnapshot.TakeAsync(Broker.ConnectionString, Ct, "console_sessions");

        object[] outOfRange = [2, 5, "5", -1, "-1", "1", "Owner", "", "Admin,Member", "Member, Admin", 1.5, true];
        foreach (var role in outOfRange)
        {
            var response = await key.PostAsJsonAsync("/api/v1/members", new Dictionary<string, object> { ["email"] = "mallory@example.com", ["role"] = role }, Ct);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"role {role}: {(int)response.StatusCode}");
            var scope = await key.PostAsJsonAsync("/api/v1/api-keys", new Dictionary<string, object> { ["label"] = "x", ["scope"] = role }, Ct);
            Assert.True(scope.StatusCode == HttpStatusCode.BadRequest, $"tenant key scope {role}: {(int)scope.StatusCode}");
            var opScope = await op.PostAsJsonAsync("/api/v1/operator/keys", new Dictionary<string, object> { ["label"] = "x", ["scope"] = role }, Ct);
            Assert.True(opScope.StatusCode == HttpStatusCode.BadRequest, $"operator key scope {role}: {(int)opScope.StatusCode}");
        }
        foreach (var role in new[] { "2", "5", "-1", "1", "Owner", "Admin,Member" })
        {
            var invite = await person.PostFormAsync("/console/tenants/household/members", new("email", "mallory@example.com"), new("role", role));
            Assert.True(invite.StatusCode == HttpStatusCode.BadRequest, $"console role {role}: {(int)invite.StatusCode}");
            var change = await person.PostFormAsync($"/console/tenants/household/members/{pat.GetProperty("id").GetGuid()}/role", KeyValuePair.Create("role", role));
            Assert.True(change.StatusCode == HttpStatusCode.BadRequest, $"console role change to {role}: {(int)change.StatusCode}");
            var apiKey = await person.PostFormAsync("/console/tenants/household/api-keys", new("label", "x"), new("scope", role));
            Assert.True(apiKey.StatusCode == HttpStatusCode.BadRequest, $"console key scope {role}: {(int)apiKey.StatusCode}");
            var opKey = await person.PostFormAsync("/console/operator/keys", new("label", "x"), new("scope", role));
            Assert.True(opKey.StatusCode == HttpStatusCode.BadRequest, $"console operator key scope {role}: {(int)opKey.StatusCode}");
        }

        var after = await DatabaseSnapshot.TakeAsync(Broker.ConnectionString, Ct, "console_sessions");
        Assert.True(before.SequenceEqual(after), DatabaseSnapshot.Difference(before, after));
        // The names themselves, in any case, are what works.
        Assert.Equal(HttpStatusCode.OK, (await key.PostAsJsonAsync("/api/v1/members", new { email = "ann@example.com", role = "ADMIN" }, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.Redirect, (await person.PostFormAsync("/console/tenants/household/members", new("email", "bo@example.com"), new("role", "Member"))).StatusCode);
    }

    /// <summary>
    /// The class guard: a text field added later without a line rule fails here, before anyone can send it a NUL. Route values
    /// and query strings need none: <see cref="HostingExtensions.UseBrokerFrontDoor"/> refuses control characters there.
    /// </summary>
    [Fact]
    public void EveryTextFieldOfEveryJsonBodyAndFormDeclaresItsLineRuleAndLength()
    {
        var endpoints = Broker.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        var missing = new List<string>();
        var checkedFields = 0;
        foreach (var endpoint in endpoints)
        {
            if (endpoint.Metadata.GetMetadata<MethodInfo>() is not { } handler) continue;
            foreach (var parameter in handler.GetParameters())
            {
                if (parameter.ParameterType == typeof(string) && parameter.GetCustomAttribute<FromFormAttribute>() is not null)
                {
                    checkedFields++;
                    if (!HasLineRule(parameter.GetCustomAttributes()) || !HasLength(parameter.GetCustomAttributes())) missing.Add($"{endpoint.RoutePattern.RawText}: form field {parameter.Name}");
                }
                else if (IsBody(parameter, endpoint))
                {
                    foreach (var property in parameter.ParameterType.GetProperties().Where(p => p.PropertyType == typeof(string)))
                    {
                        checkedFields++;
                        if (!HasLineRule(property.GetCustomAttributes()) || !HasLength(property.GetCustomAttributes())) missing.Add($"{endpoint.RoutePattern.RawText}: {parameter.ParameterType.Name}.{property.Name}");
                    }
                }
            }
        }
        Assert.True(checkedFields >= 15, $"only {checkedFields} text fields found: is the walk still finding the handlers?");
        Assert.True(missing.Count == 0, "Text fields without [SingleLine] or [MultiLine] and [MaxLength]:\n" + string.Join('\n', missing));
    }

    private static bool HasLineRule(IEnumerable<Attribute> attributes) => attributes.Any(a => a is SingleLineAttribute or MultiLineAttribute);

    /// <summary>A length limit (the column's): without one a long value reaches Postgres and fails there.</summary>
    private static bool HasLength(IEnumerable<Attribute> attributes) => attributes.Any(a => a is System.ComponentModel.DataAnnotations.MaxLengthAttribute);

    private static bool IsBody(ParameterInfo parameter, Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<IAcceptsMetadata>() is { RequestType: { } type } && type == parameter.ParameterType;
}
