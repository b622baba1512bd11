using Broker.Admin;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;

namespace Broker.People;

/// <summary>
/// People sign in to the console with OpenID Connect (code + PKCE) against the configured provider. The session
/// lives in Postgres (<see cref="ConsoleSessionStore"/>); the HttpOnly, SameSite=Lax cookie holds only its key.
/// It ends after <see cref="ConsoleOptions.SessionHours"/>, at sign-out, when the person is removed from a tenant,
/// and at the next request once configuration stops naming an operator one: on every replica, whoever kept a copy of the cookie.
/// </summary>
public static class ConsoleAuthentication
{
    public const string CookieScheme = "Console";
    public const string OidcScheme = "ConsoleOidc";
    public const string CallbackPath = "/signin-oidc";
    /// <summary>Any signed-in person (what they may see is then decided by <see cref="TenantAccess"/>).</summary>
    public const string ConsolePolicy = "Console";

    public static WebApplicationBuilder AddPeople(this WebApplicationBuilder builder)
    {
        builder.Services.AddOptions<ConsoleOptions>().BindConfiguration(ConsoleOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped<TenantAccess>();
        builder.Services.AddScoped<AuditLog>();
        builder.Services.AddScoped<ConsoleSignIn>();
        builder.Services.AddSingleton<ConsoleSessionStore>();
        var authentication = builder.Services.AddAuthentication().AddCookie(CookieScheme, _ => { });
        builder.Services.AddOptions<CookieAuthenticationOptions>(CookieScheme)
            .Configure<IOptions<ConsoleOptions>, IOptionsMonitor<ConsoleOptions>, ConsoleSessionStore>(ConfigureCookie);
        // Without a provider there is no console sign-in (the page says how to configure one); the
        // API, connect flow and metrics work all the same.
        if (builder.Configuration.GetSection(ConsoleOptions.SectionName).Get<ConsoleOptions>()?.Oidc.IsConfigured == true)
        {
            authentication.AddOpenIdConnect(OidcScheme, _ => { });
            builder.Services.AddOptions<OpenIdConnectOptions>(OidcScheme).Configure<IOptions<ConsoleOptions>>(ConfigureOidc);
        }
        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(ConsolePolicy, p => p.AddAuthenticationSchemes(CookieScheme).RequireAuthenticatedUser());
        return builder;
    }

    private static void ConfigureCookie(CookieAuthenticationOptions o, IOptions<ConsoleOptions> console, IOptionsMonitor<ConsoleOptions> current, ConsoleSessionStore sessions)
    {
        o.SessionStore = sessions;
        o.Cookie.Name = "broker.console";
        o.Cookie.HttpOnly = true;
        o.Cookie.SameSite = SameSiteMode.Lax;
        o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest; // Secure behind TLS (forwarded proto)
        o.ExpireTimeSpan = TimeSpan.FromHours(console.Value.SessionHours);
        o.SlidingExpiration = false;
        o.LoginPath = "/console/signin";
        o.AccessDeniedPath = "/console/denied";
        o.ReturnUrlParameter = "returnUrl";
        // The handler builds these redirects absolute from the request's Host, which the client chooses:
        // a forged Host must not turn the sign-in redirect into one to another site.
        o.Events.OnRedirectToLogin = context => RedirectLocally(context);
        o.Events.OnRedirectToAccessDenied = context => RedirectLocally(context);
        o.Events.OnValidatePrincipal = context => EndIfNoLongerOperatorAsync(context, current.CurrentValue.Operators);
    }

    /// <summary>An operator's session ends at its next request once configuration no longer names them (read every request).</summary>
    private static async Task EndIfNoLongerOperatorAsync(CookieValidatePrincipalContext context, OperatorNames operators)
    {
        if (context.Principal is { } user && user.IsOperator() && !ConsoleSignIn.NamesOperator(operators, user))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(CookieScheme); // deletes the session row
        }
    }

    private static Task RedirectLocally(Microsoft.AspNetCore.Authentication.RedirectContext<CookieAuthenticationOptions> context)
    {
        var target = new Uri(context.RedirectUri, UriKind.RelativeOrAbsolute);
        context.Response.Redirect(target.IsAbsoluteUri ? target.PathAndQuery : context.RedirectUri);
        return Task.CompletedTask;
    }

    private static void ConfigureOidc(OpenIdConnectOptions o, IOptions<ConsoleOptions> console)
    {
        var oidc = console.Value.Oidc;
        o.SignInScheme = CookieScheme;
        o.SignOutScheme = CookieScheme;
        o.Authority = oidc.Authority;
        o.ClientId = oidc.ClientId;
        o.ClientSecret = oidc.ClientSecret;
        o.RequireHttpsMetadata = oidc.RequireHttpsMetadata;
        o.ResponseType = OpenIdConnectResponseType.Code;
        o.UsePkce = true;
        o.CallbackPath = CallbackPath;
        o.SignedOutCallbackPath = "/signout-callback-oidc";
        o.SignedOutRedirectUri = "/console/signed-out";
        o.Scope.Clear();
        foreach (var scope in new[] { "openid", "profile", "email" }.Concat(oidc.ExtraScopes))
        {
            o.Scope.Add(scope);
        }
        o.MapInboundClaims = false;
        o.SaveTokens = false;
        o.GetClaimsFromUserInfoEndpoint = false;
        o.RemoteAuthenticationTimeout = TimeSpan.FromMinutes(15);
        foreach (var cookie in new[] { o.CorrelationCookie, o.NonceCookie })
        {
            cookie.HttpOnly = true;
            cookie.SameSite = SameSiteMode.Lax;
            cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        }
        o.EventsType = typeof(ConsoleSignIn);
    }
}
