using System.ComponentModel.DataAnnotations;
using Broker.Admin;
using Broker.Hosting;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Broker.Partner;

/// <summary>
/// Body of <c>POST /api/v1/partner/key</c>: <c>privateKeyPem</c> to import, or <c>generate: true</c>; one of the two, said
/// out loud. Replacing the key in use un-pairs every car paired with it, so it also takes <c>replace: true</c>.
/// </summary>
public sealed record PartnerKeyRequest(
    [property: MaxLength(16_384), MultiLine] string? PrivateKeyPem = null, bool Generate = false, bool Replace = false);

/// <summary>Body of <c>POST /api/v1/partner/registrations</c>: a configured region (<c>na</c>, <c>eu</c>, <c>cn</c>) or <c>all</c>.</summary>
public sealed record PartnerRegistrationRequest([property: Required, MaxLength(8), SingleLine] string Region);

/// <summary>The public key where Tesla fetches it, and the operator's partner set-up API (<c>/api/v1/partner</c>).</summary>
public static class PartnerEndpoints
{
    public const string PublicKeyPath = "/.well-known/appspecific/com.tesla.3p.public-key.pem";

    public static RouteGroupBuilder MapPartner(this IEndpointRouteBuilder routes)
    {
        // Anonymous on purpose: Tesla downloads it on registration and again when an owner pairs (TESLA.md §4.1).
        routes.MapGet(PublicKeyPath, async Task<Results<ContentHttpResult, NotFound>> (PartnerKeys keys, HttpContext http) =>
            await keys.CurrentAsync(http.RequestAborted) is { } key
                ? TypedResults.Text(key.PublicKeyPem, "application/x-pem-file")
                : TypedResults.NotFound())
            .Describe("getPartnerPublicKey", "The partner public key (PEM) Tesla downloads from the app's domain")
            .AllowAnonymous().ExcludeFromDescription();

        var group = routes.MapGroup("/api/v1/partner").RequireAuthorization(AdminPolicies.Operator).WithTags("Partner");

        group.MapGet("/", async (PartnerSetup setup, HttpContext http) => TypedResults.Ok(await setup.GetStatusAsync(http.RequestAborted)))
            .Describe("getPartnerStatus", "The Fleet API partner set-up: domain, key, registration per region");

        group.MapPost("/key", async Task<Results<Ok<PartnerKeyResponse>, ProblemHttpResult>> (PartnerKeyRequest request, PartnerSetup setup, HttpContext http) =>
            await Attempt(() => (request.PrivateKeyPem, request.Generate) switch
            {
                ({ Length: > 0 } pem, false) => setup.ImportKeyAsync(pem, request.Replace, http.RequestAborted),
                (null or "", true) => setup.GenerateKeyAsync(request.Replace, http.RequestAborted),
                _ => throw new PartnerSetupException("Say what to do", "Send either privateKeyPem (a key to import) or generate: true, not both and not neither."),
            })).Describe("setPartnerKey", "Generate or import the partner key pair").ProducesProblem(StatusCodes.Status409Conflict);

        group.MapPost("/registrations", async Task<Results<Ok<IReadOnlyList<PartnerRegistrationResponse>>, ProblemHttpResult>> (
            PartnerRegistrationRequest request, PartnerSetup setup, HttpContext http) =>
            await Attempt(() => setup.RegisterAsync(request.Region.Equals("all", StringComparison.OrdinalIgnoreCase) ? null : request.Region, http.RequestAborted)))
            .Describe("registerPartner", "Register the partner key with Tesla in one region or all");
        return group;
    }

    private static async Task<Results<Ok<T>, ProblemHttpResult>> Attempt<T>(Func<Task<T>> act)
    {
        try
        {
            return TypedResults.Ok(await act());
        }
        catch (PartnerSetupException ex)
        {
            return TypedResults.Problem(ex.Message, title: ex.Title, statusCode: ex.Status);
        }
    }
}
