using TeslaSimulator.Control;
using TeslaSimulator.Hosting;
using TeslaSimulator.State;

namespace TeslaSimulator.Auth;

/// <summary>The browser leg: authorize → sign-in → consent → redirect with a code, at the auth server (realm) the browser reached.</summary>
internal static class AuthorizeEndpoints
{
    private static readonly TimeSpan PendingLifetime = TimeSpan.FromMinutes(30);
    private static readonly TimeSpan CodeLifetime = TimeSpan.FromMinutes(10);

    public static IEndpointRouteBuilder MapAuthorize(this IEndpointRouteBuilder app)
    {
        app.MapGet("/oauth2/v3/authorize", Start);
        app.MapPost("/oauth2/v3/authorize", SignInAsync);
        app.MapPost("/oauth2/v3/authorize/consent", ConsentAsync);
        return app;
    }

    internal static IResult Start(HttpRequest request, SimulatorState state, AuthStore store, SimRealms realms)
    {
        var q = request.Query;
        var realm = realms.Of(request);
        // Never redirect to a URI the client did not register: those problems get an error page. An app registered at
        // the other auth server (China's, or the global one) is unknown here.
        if (!state.Clients.TryGetValue(q["client_id"].ToString(), out var client) || !realm.Registered(client))
            return AuthPages.Error("Unknown client_id. The application is not registered.");
        var redirect = q["redirect_uri"].ToString();
        if (!client.RedirectUris.Contains(redirect, StringComparer.Ordinal))
            return AuthPages.Error("The redirect_uri does not match any URI registered for this application.");

        string? stateParam = q.ContainsKey("state") ? q["state"].ToString() : null;
        if (q["response_type"] != "code")
            return Redirect(redirect, ("error", "unsupported_response_type"), ("error_description", "response_type must be code"), ("state", stateParam));
        var method = q.ContainsKey("code_challenge_method") ? q["code_challenge_method"].ToString() : "plain";
        if (method is not ("S256" or "plain"))
            return Redirect(redirect, ("error", "invalid_request"), ("error_description", "Unsupported code_challenge_method"), ("state", stateParam));
        var scopes = Scopes.Parse(q["scope"]);
        if (scopes.Count == 0)
            return Redirect(redirect, ("error", "invalid_scope"), ("error_description", "No scope requested"), ("state", stateParam));

        var challenge = q["code_challenge"].ToString();
        lock (state.Gate)
        {
            var p = new PendingAuthorization(AuthStore.RandomId(), realm, client, redirect, scopes, stateParam,
                q.ContainsKey("nonce") ? q["nonce"].ToString() : null, challenge == "" ? null : challenge, method,
                q["prompt_missing_scopes"] == "true", q["require_requested_scopes"] == "true", state.Now + PendingLifetime);
            store.Pending[p.Id] = p;
            return AuthPages.SignIn(p, state.Accounts.Where(realm.Serves));
        }
    }

    internal static async Task<IResult> SignInAsync(HttpContext ctx, SimulatorState state, AuthStore store)
    {
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        lock (state.Gate)
        {
            if (Find(store, state, form["transaction_id"]) is not { } p) return AuthPages.Error("This sign-in request has expired. Start again from the application.");
            if (form["action"] == "cancel")
            {
                store.Pending.Remove(p.Id);
                return Redirect(p.RedirectUri, ("error", "login_cancelled"), ("error_description", "User cancelled login"), ("state", p.State));
            }
            // China's accounts exist only at China's auth server and the others only at the global one.
            var account = state.AccountByEmail(form["identity"].ToString()) is { } a && p.Realm.Serves(a) ? a : null;
            ctx.SetAccount(account?.Email);
            if (account is null || account.Password != form["credential"])
                return AuthPages.SignIn(p, state.Accounts.Where(p.Realm.Serves), "The email or password you entered is incorrect.");

            p.Account = account;
            p.AuthTime = state.Now;
            var (granted, offered) = Split(p, state);
            // Re-consent with nothing missing has nothing to ask: finish straight away.
            if (p.PromptMissingScopes && offered.Count == 0) return Approve(p, state, store, []);
            return AuthPages.Consent(p, granted, offered);
        }
    }

    internal static async Task<IResult> ConsentAsync(HttpContext ctx, SimulatorState state, AuthStore store)
    {
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        lock (state.Gate)
        {
            if (Find(store, state, form["transaction_id"]) is not { Account: not null } p)
                return AuthPages.Error("This sign-in request has expired. Start again from the application.");
            ctx.SetAccount(p.Account.Email);
            if (form["action"] != "allow")
            {
                store.Pending.Remove(p.Id);
                return Redirect(p.RedirectUri, ("error", "access_denied"), ("error_description", "The user denied access to the application"), ("state", p.State));
            }
            var (granted, offered) = Split(p, state);
            var selected = form["select_all"] == "true" ? offered.ToHashSet() : offered.Intersect(form["scope"].Select(s => s ?? "")).ToHashSet();
            if (p.Scopes.Contains(Scopes.OpenId)) selected.Add(Scopes.OpenId);
            if (p.RequireRequestedScopes && !p.Scopes.All(s => selected.Contains(s) || granted.Contains(s)))
                return AuthPages.Consent(p, granted, offered, "This application requires all of the requested permissions.");
            return Approve(p, state, store, selected);
        }
    }

    /// <summary>Scopes already granted (shown as such only with prompt_missing_scopes) and scopes to offer.</summary>
    private static (IReadOnlySet<string> Granted, IReadOnlyList<string> Offered) Split(PendingAuthorization p, SimulatorState state)
    {
        var consent = state.ConsentFor(p.Account!.Sub, p.Client.ClientId);
        IReadOnlySet<string> granted = p.PromptMissingScopes && !consent.Revoked
            ? p.Scopes.Where(consent.Scopes.Contains).ToHashSet() : new HashSet<string>();
        return (granted, p.Scopes.Where(s => s != Scopes.OpenId && !granted.Contains(s)).ToList());
    }

    private static IResult Approve(PendingAuthorization p, SimulatorState state, AuthStore store, HashSet<string> selected)
    {
        var account = p.Account!;
        var consent = state.ConsentFor(account.Sub, p.Client.ClientId);
        if (consent.Revoked) { consent.Scopes.Clear(); consent.Revoked = false; }
        // Without prompt_missing_scopes the user decides every requested scope anew; other grants stay.
        if (!p.PromptMissingScopes) consent.Scopes.ExceptWith(p.Scopes);
        consent.Scopes.UnionWith(selected);
        if (p.Scopes.Contains(Scopes.OpenId)) consent.Scopes.Add(Scopes.OpenId);

        var code = CodePrefix(p.Realm, account) + AuthStore.RandomId(24);
        store.Codes[code] = new AuthCode(p.Realm.Name, p.Client.ClientId, p.RedirectUri, account, consent.Scopes.ToList(), p.State, p.Nonce,
            p.CodeChallenge, p.ChallengeMethod, p.AuthTime, state.Now + CodeLifetime);
        store.Record("code", code, state.Now);
        store.Pending.Remove(p.Id);
        return Redirect(p.RedirectUri, ("locale", "en-US"), ("code", code), ("state", p.State), ("issuer", p.Realm.CallbackIssuer));
    }

    /// <summary>
    /// Global codes and refresh tokens start with the region (NA_, EU_: TESLA.md §1.3). No China code was ever seen
    /// publicly (tesla-confirmed §2), so China's carry no prefix: nothing may lean on one.
    /// </summary>
    internal static string CodePrefix(SimRealm realm, SimAccount account) => realm.Name == SimRealm.Global ? $"{account.OuCode}_" : "";

    private static PendingAuthorization? Find(AuthStore store, SimulatorState state, string? id) =>
        id is not null && store.Pending.TryGetValue(id, out var p) && p.ExpiresAt > state.Now ? p : null;

    private static IResult Redirect(string uri, params (string Key, string? Value)[] query)
    {
        var parts = query.Where(q => q.Value is not null).Select(q => $"{q.Key}={Uri.EscapeDataString(q.Value!)}");
        return TypedResults.Redirect(uri + (uri.Contains('?') ? "&" : "?") + string.Join("&", parts));
    }
}
