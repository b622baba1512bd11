using Microsoft.Extensions.Options;
using TeslaSimulator.Auth;

namespace TeslaSimulator.DevIdentity;

/// <summary>
/// A development OpenID provider under <c>/dev-idp</c> on the auth origin, so the demo's admin console can sign people in
/// without any outside provider: discovery, authorize (code + PKCE S256) with a plain sign-in form, token, jwks, userinfo
/// and RP-initiated logout. No cookies and no session: every authorize shows the form.
/// </summary>
internal static class DevIdentityEndpoints
{
    private static readonly TimeSpan SignInLifetime = TimeSpan.FromMinutes(10);

    public static WebApplicationBuilder AddDevIdentity(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<DevIdentityOptions>().BindConfiguration(DevIdentityOptions.SectionName)
            .ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddSingleton(sp => sp.GetRequiredService<IOptions<DevIdentityOptions>>().Value);
        builder.Services.AddSingleton<DevIdentityStore>();
        return builder;
    }

    public static IEndpointRouteBuilder MapDevIdentity(this IEndpointRouteBuilder app)
    {
        var idp = app.MapGroup("/dev-idp");
        idp.MapGet("/.well-known/openid-configuration", (DevIdentityStore store) => TypedResults.Json(Discovery(store.Issuer)));
        idp.MapGet("/jwks", (SigningKey key) => TypedResults.Json(key.Jwks()));
        idp.MapGet("/authorize", Start);
        idp.MapPost("/authorize", SignInAsync);
        idp.MapPost("/token", DevTokenEndpoints.TokenAsync);
        idp.MapMethods("/userinfo", ["GET", "POST"], DevTokenEndpoints.UserInfo);
        idp.MapMethods("/end_session", ["GET", "POST"], DevTokenEndpoints.EndSessionAsync);
        return app;
    }

    private static object Discovery(string issuer) => new
    {
        issuer,
        authorization_endpoint = $"{issuer}/authorize",
        token_endpoint = $"{issuer}/token",
        userinfo_endpoint = $"{issuer}/userinfo",
        jwks_uri = $"{issuer}/jwks",
        end_session_endpoint = $"{issuer}/end_session",
        response_types_supported = new[] { "code" },
        response_modes_supported = new[] { "query", "form_post" },
        grant_types_supported = new[] { "authorization_code" },
        subject_types_supported = new[] { "public" },
        id_token_signing_alg_values_supported = new[] { "RS256" },
        scopes_supported = new[] { "openid", "profile", "email", "groups" },
        claims_supported = new[] { "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "email", "email_verified", "name", "groups" },
        token_endpoint_auth_methods_supported = new[] { "client_secret_basic", "client_secret_post" },
        code_challenge_methods_supported = new[] { "S256" },
        authorization_response_iss_parameter_supported = true,
    };

    internal static IResult Start(HttpRequest request, DevIdentityStore store)
    {
        var q = request.Query;
        string? P(string key) => q.TryGetValue(key, out var v) && v.ToString() != "" ? v.ToString() : null;
        // Never send the browser to a URI the client did not register: those problems get an error page.
        if (!store.Clients.TryGetValue(P("client_id") ?? "", out var client))
            return DevIdentityPages.Error("Unknown client_id: the application is not registered with the development identity provider.");
        var redirect = P("redirect_uri") ?? "";
        if (!client.RedirectUris.Contains(redirect, StringComparer.Ordinal))
            return DevIdentityPages.Error("The redirect_uri is not registered for this application.");

        var state = P("state");
        var mode = P("response_mode") ?? "query";
        if (mode is not ("query" or "form_post"))
            return Respond(redirect, "query", ("error", "invalid_request"), ("error_description", "response_mode must be query or form_post"), ("state", state));
        var scopes = Scopes.Parse(P("scope"));
        (string Error, string Description)? problem = (P("response_type"), P("code_challenge"), P("code_challenge_method"), P("prompt")) switch
        {
            (not "code", _, _, _) => ("unsupported_response_type", "response_type must be code"),
            _ when !scopes.Contains(Scopes.OpenId) => ("invalid_scope", "the openid scope is required"),
            (_, null, _, _) or (_, _, not "S256", _) => ("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256"),
            (_, _, _, "none") => ("login_required", "this provider keeps no session; sign-in needs the form"),
            _ => null,
        };
        if (problem is { } p)
            return Respond(redirect, mode, ("error", p.Error), ("error_description", p.Description), ("state", state));

        lock (store.Gate)
        {
            store.Sweep();
            var signIn = new DevSignIn(AuthStore.RandomId(), client, redirect, mode, scopes, state, P("nonce"), P("code_challenge")!,
                store.Now + SignInLifetime);
            store.SignIns[signIn.Id] = signIn;
            return DevIdentityPages.SignIn(signIn, store.People);
        }
    }

    internal static async Task<IResult> SignInAsync(HttpContext ctx, DevIdentityStore store)
    {
        var form = await ctx.Request.ReadFormAsync(ctx.RequestAborted);
        lock (store.Gate)
        {
            store.Sweep();
            if (!store.SignIns.TryGetValue(form["transaction_id"].ToString(), out var signIn))
                return DevIdentityPages.Error("This sign-in has expired. Start again from the application.");
            if (form["action"] == "cancel")
            {
                store.SignIns.Remove(signIn.Id);
                return Respond(signIn.RedirectUri, signIn.ResponseMode, ("error", "access_denied"),
                    ("error_description", "The person cancelled the sign-in."), ("state", signIn.State));
            }
            var email = form["email"].ToString();
            if (store.PersonByEmail(email) is not { } person || person.Password != form["password"])
                return DevIdentityPages.SignIn(signIn, store.People, email, "Unknown email or wrong password.");

            store.SignIns.Remove(signIn.Id);
            var code = AuthStore.RandomId(32);
            store.Codes[code] = new DevCode(signIn.Client, signIn.RedirectUri, person, signIn.Scopes, signIn.Nonce, signIn.CodeChallenge,
                store.Now, store.Now.AddSeconds(store.Options.CodeLifetimeSeconds));
            return Respond(signIn.RedirectUri, signIn.ResponseMode, ("code", code), ("state", signIn.State), ("iss", store.Issuer));
        }
    }

    /// <summary>Sends the browser back to the client, as a query redirect or a form_post page. Null values are left out.</summary>
    private static IResult Respond(string redirectUri, string mode, params (string Key, string? Value)[] fields)
    {
        var present = fields.Where(f => f.Value is not null).Select(f => (f.Key, f.Value!)).ToList();
        if (mode == "form_post") return DevIdentityPages.FormPost(redirectUri, present);
        var query = string.Join("&", present.Select(f => $"{f.Key}={Uri.EscapeDataString(f.Item2)}"));
        return TypedResults.Redirect(redirectUri + (redirectUri.Contains('?') ? "&" : "?") + query);
    }
}
