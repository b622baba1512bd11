using System.Net.Http.Headers;
using System.Text;

namespace Broker.Tests.Security;

/// <summary>Who sends a hostile request: a browser, a signed-in tenant-A member, a key holder, or nobody in particular.</summary>
public enum Caller { Anonymous, BrowserX, BrowserY, MemberA, KeyA, Operator }

/// <summary>One generated request, printable on failure.</summary>
public sealed record HostileRequest(Caller Caller, string Method, string Url, byte[]? Body, string? ContentType, IReadOnlyList<(string Name, string Value)> Headers, string Note)
{
    public HttpRequestMessage ToMessage()
    {
        var message = new HttpRequestMessage(new HttpMethod(Method), Url);
        if (Body is not null)
        {
            message.Content = new ByteArrayContent(Body);
            if (ContentType is not null)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Type", ContentType);
            }
        }
        foreach (var (name, value) in Headers)
        {
            if (name == "Host")
            {
                message.Headers.Host = value;
            }
            else
            {
                message.Headers.TryAddWithoutValidation(name, value);
            }
        }
        return message;
    }

    public override string ToString() =>
        $"{Caller} {Method} {Shorten(Url)} [{Note}] content-type={ContentType ?? "-"} body={(Body is null ? "-" : Shorten(Encoding.UTF8.GetString(Body)))} headers={string.Join("; ", Headers.Select(h => $"{h.Name}: {Shorten(h.Value)}"))}";

    private static string Shorten(string s) => s.Length <= 300 ? s : $"{s[..300]}…({s.Length} chars)";
}

/// <summary>What the generator may name: the attacker's own things (tenant A), the victim's ids (tenant B), and real OAuth leftovers.</summary>
public sealed record HostileWorld(
    string LinkA, Guid AccountA, string ResultA, string UsedCallback, string LiveCallbackQuery, string LiveState,
    Guid AccountB, Guid LinkB, Guid MemberB, Guid ApiKeyB, Guid ReconnectLinkB, string ApiKeyA, string SlugB,
    KeyValuePair<string, string> MemberFormToken, KeyValuePair<string, string> BrowserXFormToken);

/// <summary>A seeded generator of malformed and hostile requests against connect, callback, console and API.</summary>
public sealed class HostileRequests(HostileWorld w, int seed)
{
    private readonly Random _random = new(seed);

    private static readonly string[] Junk =
    [
        "", " ", "'", "\"><script>alert(1)</script>", "%00", "%FF%FE", "%C3%28", "%ED%A0%80", "..%2F..%2Fetc%2Fpasswd", "../../etc/passwd",
        "%0d%0aSet-Cookie:%20pwn=1", "%0D%0ALocation:%20https://evil.example/", "//evil.example", "https://evil.example/", "/\\evil.example",
        "\\\\evil.example", "javascript:alert(1)", "http:evil.example", "/%2F%2Fevil.example", "%2F%2Fevil.example", "-1", "0",
        "99999999999999999999999999", "null", "[]", "{}", "%7B%7D", "%C3%BC%F0%9F%98%80", "00000000-0000-0000-0000-000000000000",
        // Return URLs a browser turns into another site: it drops tabs and line breaks and reads a backslash as a slash.
        "/%09/evil.example", "/%0A/evil.example", "/%0D%0A/evil.example", "%5C%5Cevil.example", "/%5Cevil.example", "/%09%5Cevil.example",
        "%20//evil.example", "%5C/evil.example",
    ];

    /// <summary>Control characters as they arrive in a JSON string (escaped): NUL, line breaks, tab, escape, DEL, C1.</summary>
    private static readonly string[] Controls = ["\\u0000", "\\n", "\\r\\n", "\\t", "\\u001b", "\\u007f", "\\u0085", "\\u0000x"];

    /// <summary>Enum values outside their names, as JSON: numbers, numeric strings, flag sums, unknown names.</summary>
    private static readonly string[] OutOfRange = ["2", "5", "-1", "\"5\"", "\"-1\"", "\"Owner\"", "\"Admin,Member\"", "\"member,metrics\"", "1.5", "true", "\"\""];

    private string JunkValue() => _random.Next(10) switch
    {
        0 => new string('A', _random.Next(2_000, 40_000)),
        1 => Guid.NewGuid().ToString(),
        2 => Uri.EscapeDataString(Encoding.Latin1.GetString(RandomBytes(_random.Next(1, 64)))),
        _ => Pick(Junk),
    };

    private string IdValue() => _random.Next(6) switch
    {
        0 => w.AccountB.ToString(), 1 => w.LinkB.ToString(), 2 => w.MemberB.ToString(), 3 => w.ApiKeyB.ToString(), 4 => w.ReconnectLinkB.ToString(),
        _ => JunkValue(),
    };

    public HostileRequest Next()
    {
        var request = NextOfAnyKind();
        // The in-memory test server refuses to send a NUL in the path (Kestrel answers 400); keep those for queries and bodies.
        var split = request.Url.IndexOf('?');
        var path = split < 0 ? request.Url : request.Url[..split];
        return path.Contains("%00") ? request with { Url = path.Replace("%00", "%01") + (split < 0 ? "" : request.Url[split..]) } : request;
    }

    private HostileRequest NextOfAnyKind() => _random.Next(100) switch
    {
        < 8 => ConnectPage(),
        < 15 => ConnectStart(),
        < 28 => Callback(),
        < 31 => Result(),
        < 38 => ConsoleGet(),
        < 47 => ConsolePost(),
        < 65 => Api(),
        < 69 => Metrics(),
        < 77 => ControlText(),
        < 83 => OutOfRangeEnum(),
        _ => CrossTenant(),
    };

    /// <summary>
    /// A request that would be accepted but for one control character in one text field: the attacker's own tenant, valid
    /// credentials and form token, every other field valid. Expected: 400, nothing stored.
    /// </summary>
    private HostileRequest ControlText()
    {
        var escaped = Pick(Controls);
        var raw = System.Text.Json.JsonSerializer.Deserialize<string>($"\"{escaped}\"")!;
        var at = _random.Next(3);
        string Spoil(string value, string c) => at switch { 0 => c + value, 1 => value[..(value.Length / 2)] + c + value[(value.Length / 2)..], _ => value + c };
        if (_random.Next(2) == 0)
        {
            var (path, form) = _random.Next(4) switch
            {
                0 => ("/console/tenants/household/connect-links", $"label={Uri.EscapeDataString(Spoil("Ann's cars", raw))}"),
                1 => ("/console/tenants/household/api-keys", $"label={Uri.EscapeDataString(Spoil("grafana", raw))}&scope=metrics"),
                2 => ("/console/tenants/household/members", $"email={Uri.EscapeDataString(Spoil("ann@example.com", raw))}&role=member"),
                _ => ("/console/tenants/household/members", $"email=ann%40example.com&role={Uri.EscapeDataString(Spoil("member", raw))}"),
            };
            var body = $"{form}&{w.MemberFormToken.Key}={Uri.EscapeDataString(w.MemberFormToken.Value)}";
            return new(Caller.MemberA, "POST", path, Encoding.UTF8.GetBytes(body), "application/x-www-form-urlencoded", [], "control character in a console field");
        }
        var (apiPath, json) = _random.Next(5) switch
        {
            0 => ("/api/v1/connect-links", $"{{\"label\":\"{Spoil("Ann's cars", escaped)}\"}}"),
            1 => ("/api/v1/api-keys", $"{{\"label\":\"{Spoil("grafana", escaped)}\",\"scope\":\"metrics\"}}"),
            2 => ("/api/v1/members", $"{{\"email\":\"{Spoil("ann@example.com", escaped)}\",\"role\":\"member\"}}"),
            3 => ("/api/v1/tenants/household/connect-links", $"{{\"label\":\"{Spoil("campaign", escaped)}\"}}"),
            _ => ("/api/v1/members", $"{{\"email\":\"ann@example.com\",\"role\":\"{Spoil("admin", escaped)}\"}}"),
        };
        return new(Caller.KeyA, "POST", apiPath, Encoding.UTF8.GetBytes(json), "application/json", [("Authorization", $"Bearer {w.ApiKeyA}")], "control character in an api field");
    }

    /// <summary>A role or key scope outside its names, otherwise a valid request of the attacker's own tenant. Expected: 400.</summary>
    private HostileRequest OutOfRangeEnum()
    {
        var value = Pick(OutOfRange);
        if (_random.Next(3) == 0)
        {
            var formValue = value.Trim('"');
            var (path, form) = _random.Next(2) == 0
                ? ("/console/tenants/household/members", $"email=ann%40example.com&role={Uri.EscapeDataString(formValue)}")
                : ("/console/tenants/household/api-keys", $"label=x&scope={Uri.EscapeDataString(formValue)}");
            var body = $"{form}&{w.MemberFormToken.Key}={Uri.EscapeDataString(w.MemberFormToken.Value)}";
            return new(Caller.MemberA, "POST", path, Encoding.UTF8.GetBytes(body), "application/x-www-form-urlencoded", [], "out-of-range enum in a console field");
        }
        var (apiPath, json) = _random.Next(2) == 0
            ? (PickOf("/api/v1/members", "/api/v1/tenants/household/members"), $"{{\"email\":\"ann@example.com\",\"role\":{value}}}")
            : (PickOf("/api/v1/api-keys", "/api/v1/tenants/household/api-keys"), $"{{\"label\":\"x\",\"scope\":{value}}}");
        return new(Caller.KeyA, "POST", apiPath, Encoding.UTF8.GetBytes(json), "application/json", [("Authorization", $"Bearer {w.ApiKeyA}")], "out-of-range enum in an api field");
    }

    /// <summary>Tenant A's valid credentials, the right method and a well-formed request, naming one of tenant B's things.</summary>
    private HostileRequest CrossTenant()
    {
        if (_random.Next(2) == 0)
        {
            var slug = PickOf("household", w.SlugB);
            var (path, method) = _random.Next(7) switch
            {
                0 => ($"/console/tenants/{slug}/accounts/{w.AccountB}/revoke", "POST"),
                1 => ($"/console/tenants/{slug}/accounts/{w.AccountB}/reconnect-link", "POST"),
                2 => ($"/console/tenants/{slug}/connect-links/{PickOf(w.LinkB.ToString(), w.ReconnectLinkB.ToString())}/revoke", "POST"),
                3 => ($"/console/tenants/{slug}/members/{w.MemberB}/remove", "POST"),
                4 => ($"/console/tenants/{slug}/api-keys/{w.ApiKeyB}/revoke", "POST"),
                5 => ($"/console/tenants/{slug}/accounts/{w.AccountB}", "GET"),
                _ => ($"/console/tenants/{w.SlugB}", "GET"),
            };
            var form = method == "POST" ? Encoding.UTF8.GetBytes($"{w.MemberFormToken.Key}={Uri.EscapeDataString(w.MemberFormToken.Value)}") : null;
            return new(Caller.MemberA, method, path, form, form is null ? null : "application/x-www-form-urlencoded", [], "cross-tenant console");
        }
        var prefix = PickOf("/api/v1", "/api/v1/tenants/household", $"/api/v1/tenants/{w.SlugB}");
        var (apiPath, apiMethod, json) = _random.Next(9) switch
        {
            0 => ($"{prefix}/accounts/{w.AccountB}/revoke", "POST", (string?)null),
            1 => ($"{prefix}/accounts/{w.AccountB}/reconnect-links", "POST", null),
            2 => ($"{prefix}/connect-links/{PickOf(w.LinkB.ToString(), w.ReconnectLinkB.ToString())}", "DELETE", null),
            3 => ($"{prefix}/members/{w.MemberB}", "DELETE", null),
            4 => ($"{prefix}/api-keys/{w.ApiKeyB}", "DELETE", null),
            5 => ($"{prefix}/accounts/{w.AccountB}", "GET", null),
            6 => ($"/api/v1/tenants/{w.SlugB}/policy", "PUT", "{\"wakeAfterSleepMinutes\":5}"),
            7 => ($"/api/v1/tenants/{w.SlugB}/{PickOf("accounts", "members", "connect-links", "api-keys", "audit", "policy")}", "GET", null),
            _ => ($"/api/v1/tenants/{w.SlugB}/{PickOf("connect-links", "members", "api-keys")}", "POST", "{\"label\":\"x\",\"email\":\"mallory@example.com\",\"role\":\"Admin\"}"),
        };
        return new(Caller.KeyA, apiMethod, apiPath, json is null ? null : Encoding.UTF8.GetBytes(json), json is null ? null : "application/json",
            [("Authorization", $"Bearer {w.ApiKeyA}")], "cross-tenant api");
    }

    private HostileRequest ConnectPage() =>
        Get(PickCaller(Caller.Anonymous, Caller.BrowserX, Caller.BrowserY), $"/connect/{PickOf(w.LinkA, Tamper(w.LinkA), JunkValue())}{MaybeQuery("missing")}", "connect page");

    private HostileRequest ConnectStart()
    {
        var caller = PickCaller(Caller.Anonymous, Caller.BrowserX, Caller.BrowserY);
        var (body, type, note) = FormishBody(["missing", "realm"], caller);
        return new(caller, PickOf("POST", "POST", "PUT", "DELETE"),
            $"/connect/{PickOf(w.LinkA, Tamper(w.LinkA), JunkValue())}/start", body, type, SpoofHeaders(), "connect start " + note);
    }

    private HostileRequest Callback()
    {
        var live = Query(w.LiveCallbackQuery);
        var used = Query(new Uri("http://x" + w.UsedCallback).Query);
        var code = _random.Next(6) switch { 0 => null, 1 => live["code"], 2 => used["code"], 3 => "NA_" + Guid.NewGuid().ToString("N"), _ => JunkValue() };
        var state = _random.Next(6) switch { 0 => null, 1 => w.LiveState, 2 => Tamper(w.LiveState), 3 => used["state"], _ => JunkValue() };
        var caller = PickCaller(Caller.Anonymous, Caller.BrowserX, Caller.BrowserY);
        if (caller == Caller.BrowserX && code == live["code"] && state == w.LiveState)
        {
            caller = Caller.BrowserY; // the one genuine combination would finish a real connect: swap the cookies instead
        }
        var parts = new List<string>();
        if (code is not null) parts.Add($"code={Escape(code)}");
        if (state is not null) parts.Add($"state={Escape(state)}");
        if (_random.Next(4) == 0) parts.Add($"error={PickOf("access_denied", "login_required", JunkValue())}&error_description={JunkValue()}");
        if (_random.Next(4) == 0) parts.Add($"issuer={PickOf("https://evil.example/oauth2/v3", JunkValue())}");
        if (_random.Next(6) == 0) parts.Add($"code={Escape(JunkValue())}"); // duplicated parameter
        var url = "/connect/callback" + (parts.Count == 0 ? "" : "?" + string.Join('&', parts));
        return _random.Next(8) == 0
            ? new(caller, "POST", "/connect/callback", Encoding.UTF8.GetBytes(string.Join('&', parts)), "application/x-www-form-urlencoded", SpoofHeaders(), "callback form_post")
            : new(caller, "GET", url, null, null, SpoofHeaders(), $"callback code={(code == live["code"] ? "live" : code == used["code"] ? "used" : "forged")} state={(state == w.LiveState ? "live" : "other")}");
    }

    private HostileRequest Result() =>
        Get(PickCaller(Caller.Anonymous, Caller.BrowserX, Caller.MemberA), $"/connect/result?r={PickOf(Tamper(w.ResultA), JunkValue(), Escape(w.ResultA) + "x", "")}", "result page");

    private HostileRequest ConsoleGet()
    {
        var slug = PickOf("household", w.SlugB, JunkValue());
        var path = _random.Next(9) switch
        {
            0 => $"/console/tenants/{slug}",
            1 => $"/console/tenants/{PickOf("household", w.SlugB)}/accounts/{IdValue()}",
            2 => $"/console/signin?returnUrl={JunkValue()}&failed={JunkValue()}",
            3 => $"/console/signin/start?returnUrl={JunkValue()}",
            4 => $"/console/audit?before={JunkValue()}",
            5 => $"/console/{JunkValue()}",
            6 => "/console/operator",
            7 => $"/console?returnUrl={JunkValue()}",
            _ => $"/console/tenants/household/accounts/{w.AccountA}",
        };
        return Get(PickCaller(Caller.Anonymous, Caller.MemberA, Caller.MemberA, Caller.KeyA), path, "console page");
    }

    private HostileRequest ConsolePost()
    {
        var slug = PickOf("household", w.SlugB, JunkValue());
        var (path, fields) = _random.Next(13) switch
        {
            0 => ($"/console/tenants/{slug}/accounts/{IdValue()}/revoke", Array.Empty<string>()),
            1 => ($"/console/tenants/{slug}/accounts/{IdValue()}/reconnect-link", []),
            2 => ($"/console/tenants/{slug}/connect-links/{IdValue()}/revoke", []),
            3 => ($"/console/tenants/{slug}/members/{IdValue()}/remove", []),
            4 => ($"/console/tenants/{slug}/api-keys/{IdValue()}/revoke", []),
            5 => ($"/console/tenants/{slug}/members", ["email", "role"]),
            6 => ($"/console/tenants/{slug}/api-keys", ["label"]),
            7 => ($"/console/tenants/{slug}/connect-links", ["label", "region"]),
            8 => ("/console/tenants", ["slug", "name"]),
            9 => ("/console/operator/partner/key", ["privateKeyPem"]),
            10 => ($"/console/operator/keys/{IdValue()}/revoke", []),
            11 => ($"/console/tenants/{slug}/budget", ["budget"]),
            _ => ("/console/signout", []),
        };
        var caller = path == "/console/signout" ? Caller.Anonymous : PickCaller(Caller.MemberA, Caller.MemberA, Caller.MemberA, Caller.Anonymous, Caller.KeyA);
        var (body, type, note) = FormishBody(fields, caller);
        return new(caller, PickOf("POST", "POST", "POST", "GET", "PUT"), path, body, type, SpoofHeaders(), "console form " + note);
    }

    private HostileRequest Api()
    {
        var caller = PickCaller(Caller.KeyA, Caller.KeyA, Caller.KeyA, Caller.Anonymous, Caller.Operator);
        var prefix = caller == Caller.Operator
            ? PickOf("/api/v1/tenants/household", $"/api/v1/tenants/{JunkValue()}")
            : PickOf("/api/v1", "/api/v1", $"/api/v1/tenants/{w.SlugB}", "/api/v1/tenants/household", $"/api/v1/tenants/{JunkValue()}");
        var path = _random.Next(14) switch
        {
            0 => $"{prefix}/accounts", 1 => $"{prefix}/accounts/{IdValue()}", 2 => $"{prefix}/accounts/{IdValue()}/revoke",
            3 => $"{prefix}/accounts/{IdValue()}/reconnect-links", 4 => $"{prefix}/connect-links", 5 => $"{prefix}/connect-links/{IdValue()}",
            6 => $"{prefix}/members", 7 => $"{prefix}/members/{IdValue()}", 8 => $"{prefix}/api-keys", 9 => $"{prefix}/api-keys/{IdValue()}",
            10 => $"{prefix}/policy", 11 => $"{prefix}/audit?before={JunkValue()}&limit={JunkValue()}",
            12 => caller == Caller.Operator ? PickOf("/api/v1/tenants", "/api/v1/operator/keys", "/api/v1/partner/key", "/api/v1/partner/registrations", "/api/v1/operator/audit") : $"/api/v1/{JunkValue()}",
            _ => $"{prefix}/accounts?{JunkValue()}={JunkValue()}",
        };
        var (body, type, note) = JsonishBody();
        var headers = SpoofHeaders();
        headers.Add(("Authorization", caller switch
        {
            Caller.KeyA => _random.Next(8) == 0 ? PickOf($"Bearer {Tamper(w.ApiKeyA)}", $"Basic {w.ApiKeyA}", $"Bearer {w.ApiKeyA} {w.ApiKeyA}", "Bearer brk_" + JunkValue()) : $"Bearer {w.ApiKeyA}",
            Caller.Operator => "Bearer " + Broker.Tests.Infrastructure.BrokerApplication.OperatorToken,
            _ => PickOf("", "Bearer", "Bearer ", "Bearer brko_" + Guid.NewGuid().ToString("N"), "Bearer " + JunkValue()),
        }));
        if (_random.Next(4) == 0) headers.Add(("Accept", PickOf("text/html", "application/xml", "*/*", "application/json", JunkValue())));
        return new(caller, PickOf("GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"), path, body, type, headers, "api " + note);
    }

    private HostileRequest Metrics()
    {
        var request = Api();
        return request with { Method = PickOf("GET", "GET", "POST"), Url = PickOf("/metrics", $"/metrics/{PickOf(w.SlugB, JunkValue())}", $"/metrics?tenant={w.SlugB}&name[]={JunkValue()}"), Note = "metrics" };
    }

    /// <summary>A form body; half the time with the caller's real antiforgery token, so the handler itself is reached.</summary>
    private (byte[]? Body, string? Type, string Note) FormishBody(string[] fields, Caller caller)
    {
        KeyValuePair<string, string>? token = caller switch { Caller.MemberA => w.MemberFormToken, Caller.BrowserX => w.BrowserXFormToken, _ => null };
        if (token is { } t && _random.Next(2) == 0)
        {
            var form = fields.Select(f => $"{f}={Escape(JunkValue())}").Append($"{t.Key}={Uri.EscapeDataString(t.Value)}");
            return (Encoding.UTF8.GetBytes(string.Join('&', form)), "application/x-www-form-urlencoded", "junk form with a valid antiforgery token");
        }
        fields = [.. fields, "__RequestVerificationToken"];
        return FormishBody(fields);
    }

    private (byte[]? Body, string? Type, string Note) FormishBody(string[] fields) => _random.Next(7) switch
    {
        0 => (null, null, "no body"),
        1 => (Encoding.UTF8.GetBytes(string.Join('&', fields.Select(f => $"{f}={Escape(JunkValue())}"))), "application/x-www-form-urlencoded", "junk form"),
        2 => (Encoding.UTF8.GetBytes(string.Join('&', fields.Select(f => $"{f}={JunkValue()}"))), "application/x-www-form-urlencoded", "raw form"),
        3 => ([.. Encoding.UTF8.GetBytes($"{fields[0]}="), .. RandomBytes(_random.Next(1, 512))], "application/x-www-form-urlencoded; charset=utf-8", "invalid UTF-8 form"),
        4 => (Encoding.UTF8.GetBytes("{\"" + fields[0] + "\":\"x\"}"), "application/json", "json to a form"),
        5 => (Encoding.UTF8.GetBytes(string.Join('&', Enumerable.Range(0, 5_000).Select(i => $"f{i}=v"))), "application/x-www-form-urlencoded", "5,000 fields"),
        _ => (Encoding.UTF8.GetBytes("--b\r\nContent-Disposition: form-data; name=\"" + fields[0] + "\"\r\n\r\nx\r\n--b--"), PickOf("multipart/form-data", "multipart/form-data; boundary=b", "text/plain"), "multipart"),
    };

    private (byte[]? Body, string? Type, string Note) JsonishBody() => _random.Next(11) switch
    {
        0 => (null, null, "no body"),
        1 => (Encoding.UTF8.GetBytes("{\"label\":\"" + Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(JunkValue())).Replace("\"", "") + "\",\"email\":\"x@example.com\",\"slug\":\"s-" + _random.Next(1_000_000) + "\",\"name\":\"n\",\"role\":\"Admin\",\"wakeAfterSleepMinutes\":" + PickOf("5", "-1", "1e309", "null", "\"x\"") + "}"), "application/json", "plausible json"),
        2 => (Encoding.UTF8.GetBytes(new string('[', 5_000) + new string(']', 5_000)), "application/json", "nested json"),
        3 => (Encoding.UTF8.GetBytes("{\"label\":\"" + new string('x', 1_500_000) + "\"}"), "application/json", "1.5 MB json"),
        4 => ([.. "{\"label\":\""u8, .. RandomBytes(64), .. "\"}"u8], "application/json", "invalid UTF-8 json"),
        5 => (Encoding.UTF8.GetBytes("{\"label\":"), "application/json", "truncated json"),
        6 => (Encoding.UTF8.GetBytes("{\"label\":\"x\"}"), PickOf("text/plain", "application/xml", "application/x-www-form-urlencoded", "application/json; charset=latin1", JunkValue()), "wrong content type"),
        7 => (Encoding.UTF8.GetBytes("{\"region\":\"" + PickOf("na", "eu", "cn", "xx", JunkValue().Replace("\"", "")) + "\",\"privateKeyPem\":\"-----BEGIN EC PRIVATE KEY-----\\nMHcC\\n-----END EC PRIVATE KEY-----\"}"), "application/json", "partner json"),
        8 => (Encoding.UTF8.GetBytes("{\"email\":\"" + PickOf("a@b", "x", "\\r\\nBcc: evil@example.com", new string('e', 400) + "@example.com") + "\",\"role\":" + PickOf("\"Admin\"", "\"Owner\"", "\"99\"", "\"\"", "5", "-1", "\"5\"") + "}"), "application/json", "member json"),
        9 => (Encoding.UTF8.GetBytes("{\"__proto__\":{\"admin\":true},\"tenantId\":\"" + w.AccountB + "\",\"label\":null}"), "application/json", "extra fields"),
        _ => (Encoding.UTF8.GetBytes("[1,2,3]"), "application/json", "array json"),
    };

    private List<(string, string)> SpoofHeaders()
    {
        var headers = new List<(string, string)>();
        switch (_random.Next(10))
        {
            case 0: headers.Add(("Host", PickOf("evil.example", "evil.example:443", "localhost.evil.example"))); break;
            case 1: headers.Add(("X-Forwarded-Host", PickOf("evil.example", "evil.example, localhost"))); headers.Add(("X-Forwarded-Proto", "https")); break;
            case 2: headers.Add(("X-Forwarded-For", "203.0.113.9")); headers.Add(("X-Original-URL", "/api/v1/tenants")); break;
            case 3: headers.Add(("Cookie", $"broker.console={JunkValue()}; .AspNetCore.Correlation.{JunkValue()}=N")); break;
            case 4: headers.Add(("Referer", "https://evil.example/")); headers.Add(("Origin", "https://evil.example")); break;
        }
        return headers;
    }

    private HostileRequest Get(Caller caller, string url, string note) => new(caller, "GET", url, null, null, SpoofHeaders(), note);

    private string MaybeQuery(string name) => _random.Next(3) == 0 ? $"?{name}={JunkValue()}" : "";

    private string Tamper(string value)
    {
        if (value.Length == 0) return "x";
        var chars = value.ToCharArray();
        var i = _random.Next(chars.Length);
        chars[i] = chars[i] == 'A' ? 'B' : 'A';
        return _random.Next(3) switch { 0 => new string(chars), 1 => value[..(value.Length / 2)], _ => value + "AA" };
    }

    private static string Escape(string value) => Uri.EscapeDataString(value.Length > 30_000 ? value[..30_000] : value);

    private static Dictionary<string, string> Query(string query) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(query).ToDictionary(p => p.Key, p => p.Value.ToString());

    private byte[] RandomBytes(int n)
    {
        var bytes = new byte[n];
        _random.NextBytes(bytes);
        bytes[0] = 0xFF; // never valid UTF-8
        return bytes;
    }

    private Caller PickCaller(params Caller[] callers) => callers[_random.Next(callers.Length)];

    private T Pick<T>(T[] values) => values[_random.Next(values.Length)];

    private string PickOf(params string[] values) => values[_random.Next(values.Length)];
}
