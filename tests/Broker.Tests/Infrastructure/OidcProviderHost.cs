using System.Diagnostics;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace Broker.Tests.Infrastructure;

/// <summary>A client registered at the provider, in oidc-provider's client metadata names.</summary>
public sealed record OidcClient(
    [property: JsonPropertyName("client_id")] string ClientId,
    [property: JsonPropertyName("client_secret")] string ClientSecret,
    [property: JsonPropertyName("redirect_uris")] IReadOnlyList<string> RedirectUris,
    [property: JsonPropertyName("post_logout_redirect_uris")] IReadOnlyList<string> PostLogoutRedirectUris)
{
    /// <summary>client_secret_post is what ASP.NET Core's OpenIdConnect handler sends; client_secret_basic also works.</summary>
    [JsonPropertyName("token_endpoint_auth_method")] public string TokenEndpointAuthMethod { get; init; } = "client_secret_post";
}

/// <summary>
/// A person who can sign in with their email (or sub) and, when set, this password; null accepts any password.
/// EmailVerified false: the provider passes the email on without vouching for it (<c>email_verified: false</c>).
/// </summary>
public sealed record OidcAccount(string Sub, string Email, string Name, IReadOnlyList<string> Groups, string? Password, bool EmailVerified = true);

/// <summary>
/// A real OpenID provider (npm oidc-provider, tests/OidcProvider/server.mjs) in a node process on a free loopback port.
/// Edit <see cref="Clients"/> and <see cref="Accounts"/> before it starts; use as a class fixture or start it in a test.
/// </summary>
public sealed partial class OidcProviderHost : IAsyncLifetime
{
    public const string ClientId = "broker-console";
    public const string ClientSecret = "broker-console-test-secret";
    public const string OperatorsGroup = "broker-operators";

    private static readonly SemaphoreSlim InstallGate = new(1, 1);
    private readonly StringBuilder _output = new();
    private readonly CookieContainer _cookies = new();
    private Process? _process;

    /// <summary>The default client's redirect URIs are WebApplicationFactory's base, http://localhost.</summary>
    public List<OidcClient> Clients { get; } =
        [new(ClientId, ClientSecret, ["http://localhost/signin-oidc"], ["http://localhost/signout-callback-oidc"])];

    /// <summary>The simulator's /dev-idp demo people (Seed/demo-people.json): same subs, emails and passwords.</summary>
    public List<OidcAccount> Accounts { get; } =
    [
        new("7a1d4c2e-5b3f-4e8a-9c61-0d2f8b3a6e01", "operator@example.com", "Olivia Operator", [OperatorsGroup], "operator-demo"),
        new("b2e9f0a4-6c7d-4a1b-8e35-41c7d9f2a602", "alice-admin@example.com", "Alice Admin", [], "alice-admin-demo"),
        new("e4c85b17-3a29-4f6d-b0e8-92a1c6d7f303", "bob-admin@example.com", "Bob Admin", [], "bob-admin-demo"),
    ];

    public int Port { get; private set; }
    public string Issuer => _process is null ? throw new InvalidOperationException("The provider has not started.") : $"http://127.0.0.1:{Port}";

    /// <summary>The broker's console settings for this provider: its default client over plain http, operators by group.</summary>
    public Dictionary<string, string?> BrokerConsoleSettings() => new()
    {
        ["Console:Oidc:Authority"] = Issuer,
        ["Console:Oidc:ClientId"] = ClientId,
        ["Console:Oidc:ClientSecret"] = ClientSecret,
        ["Console:Oidc:RequireHttpsMetadata"] = "false",
        ["Console:Operators:Groups:0"] = OperatorsGroup,
    };

    /// <summary>What the node process printed so far (stdout and stderr), for failure messages.</summary>
    public string Output { get { lock (_output) return _output.ToString(); } }

    public ValueTask InitializeAsync() => new(StartAsync(TestContext.Current.CancellationToken));

    public async Task StartAsync(CancellationToken ct)
    {
        var dir = Path.Combine(PostgresServer.RepoRoot(), "tests", "OidcProvider");
        await EnsureInstalledAsync(dir, ct);
        // The free port may be taken between probing and listening: the server exits 3 then, and we try another.
        for (var attempt = 1; ; attempt++)
        {
            Port = PostgresServer.FreePort();
            _process = StartNode(dir);
            if (await WaitForDiscoveryAsync(ct)) return;
            if (attempt == 3 || _process.ExitCode != 3)
                throw new InvalidOperationException($"oidc-provider did not answer discovery on {Issuer} (node exit {_process.ExitCode}):\n{Output}");
            _process.Dispose();
        }
    }

    private Process StartNode(string dir)
    {
        var config = JsonSerializer.Serialize(new { port = Port, issuer = $"http://127.0.0.1:{Port}", clients = Clients, accounts = Accounts },
            new JsonSerializerOptions(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull });
        var start = new ProcessStartInfo(NodePath(), "server.mjs")
        {
            WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        start.Environment["OIDC_PROVIDER_CONFIG"] = config;
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private void Append(string? line)
    {
        if (line is not null) lock (_output) _output.AppendLine(line);
    }

    /// <summary>False when node exited first. The first requests right after start are refused until it listens.</summary>
    private async Task<bool> WaitForDiscoveryAsync(CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (_process!.HasExited) return false;
            try
            {
                using var response = await http.GetAsync($"{Issuer}/.well-known/openid-configuration", ct);
                if (response.IsSuccessStatusCode) return true;
            }
            catch (HttpRequestException) { }
            catch (TaskCanceledException) when (!ct.IsCancellationRequested) { }
            await Task.Delay(100, ct);
        }
        throw new TimeoutException($"oidc-provider did not answer discovery on {Issuer} within 30 s:\n{Output}");
    }

    /// <summary>Playwright ships node 24 next to the test binaries; oidc-provider wants 22+. Else node from PATH.</summary>
    private static string NodePath()
    {
        var platform = (OperatingSystem.IsMacOS() ? "darwin" : "linux") + (RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "-arm64" : "-x64");
        var bundled = Path.Combine(AppContext.BaseDirectory, ".playwright", "node", platform, "node");
        return File.Exists(bundled) ? bundled : "node";
    }

    /// <summary>`./broker.sh test` runs npm ci before the tests; a bare `dotnet test` on a fresh checkout does it here once.</summary>
    private static async Task EnsureInstalledAsync(string dir, CancellationToken ct)
    {
        await InstallGate.WaitAsync(ct);
        try
        {
            if (File.Exists(Path.Combine(dir, "node_modules", "oidc-provider", "package.json"))) return;
            using var npm = Process.Start(new ProcessStartInfo("npm", "ci --no-audit --no-fund")
                { WorkingDirectory = dir, RedirectStandardOutput = true, RedirectStandardError = true })!;
            var stdout = npm.StandardOutput.ReadToEndAsync(ct);
            var stderr = await npm.StandardError.ReadToEndAsync(ct);
            await npm.WaitForExitAsync(ct);
            if (npm.ExitCode != 0) throw new InvalidOperationException($"npm ci in {dir} failed ({npm.ExitCode}): {stderr}{await stdout}");
        }
        finally { InstallGate.Release(); }
    }

    /// <summary>
    /// Signs in as a browser without script would: from an authorize URL through the login form, returning the request the
    /// browser then sends to the client (GET redirect_uri?code=…&amp;state=…, or the POST of a form_post page). Cookies
    /// persist on this host between calls, like one browser profile (a second sign-in may not show the form at all),
    /// unless <paramref name="browser"/> gives this person a cookie jar of their own.
    /// </summary>
    public async Task<HttpRequestMessage> SignInAsync(Uri authorizeUrl, string login, string password, CancellationToken ct, CookieContainer? browser = null) =>
        await BrowseAsync(authorizeUrl, [new("login", login), new("password", password), new("action", "login")], ct, browser)
        ?? throw new InvalidOperationException($"Sign-in as {login} ended on the provider:\n{Output}");

    /// <summary>RP-initiated logout: opens the end_session URL, confirms, returns where the provider sends the browser (null: its own page).</summary>
    public async Task<Uri?> SignOutAsync(Uri endSessionUrl, CancellationToken ct, CookieContainer? browser = null) =>
        (await BrowseAsync(endSessionUrl, [new("logout", "yes")], ct, browser))?.RequestUri;

    /// <summary>Follows redirects and submits the provider's one form (once) until the browser would leave the provider.</summary>
    private async Task<HttpRequestMessage?> BrowseAsync(Uri start, KeyValuePair<string, string>[] answers, CancellationToken ct, CookieContainer? browser = null)
    {
        using var http = new HttpClient(new HttpClientHandler { CookieContainer = browser ?? _cookies, AllowAutoRedirect = false, UseProxy = false });
        var next = new HttpRequestMessage(HttpMethod.Get, start);
        var answered = false;
        for (var hop = 0; hop < 12; hop++)
        {
            using var response = await http.SendAsync(next, ct);
            var here = next.RequestUri!;
            if (response.Headers.Location is { } location)
            {
                var target = new Uri(here, location);
                next = new HttpRequestMessage(HttpMethod.Get, target);
                if (!OnProvider(target)) return next;
                continue;
            }
            var html = await response.Content.ReadAsStringAsync(ct);
            if (FormPattern().Match(html) is not { Success: true } form) return null;
            var action = new Uri(here, WebUtility.HtmlDecode(form.Groups["action"].Value));
            var fields = HiddenPattern().Matches(form.Value)
                .Select(m => KeyValuePair.Create(WebUtility.HtmlDecode(m.Groups["name"].Value), WebUtility.HtmlDecode(m.Groups["value"].Value)))
                .ToList();
            if (!OnProvider(action)) return new HttpRequestMessage(HttpMethod.Post, action) { Content = new FormUrlEncodedContent(fields) };
            if (answered) throw new InvalidOperationException($"The provider refused the form at {here} ({(int)response.StatusCode}):\n{html}");
            answered = true;
            next = new HttpRequestMessage(HttpMethod.Post, action) { Content = new FormUrlEncodedContent([.. fields, .. answers]) };
        }
        throw new InvalidOperationException($"Too many redirects from {start}");
    }

    private bool OnProvider(Uri uri) => uri.IsLoopback && uri.Port == Port;

    [GeneratedRegex("<form[^>]*method=\"post\"[^>]*action=\"(?<action>[^\"]*)\"[^>]*>.*?</form>", RegexOptions.Singleline)]
    private static partial Regex FormPattern();

    [GeneratedRegex("<input type=\"hidden\" name=\"(?<name>[^\"]*)\" value=\"(?<value>[^\"]*)\"")]
    private static partial Regex HiddenPattern();

    public async ValueTask DisposeAsync()
    {
        if (_process is null) return;
        if (_process.HasExited && _process.ExitCode != 0)
            TestContext.Current.SendDiagnosticMessage($"oidc-provider exited {_process.ExitCode} early:\n{Output}");
        else if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
        _process.Dispose();
    }
}
