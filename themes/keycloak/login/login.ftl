<#--
  keycloak-pwreset: the realm's sign-in form, written for this project on top of
  the keycloak.v2 layout and field macros. It differs from Keycloak's own in two
  links only: "Forgot password?" and "Register" go to the companion service,
  carrying the page's language (kc_locale) and the way back to this very login
  (Keycloak's restart URL keeps the client, redirect URI, state and PKCE of the
  sign-in the person started).
-->
<#import "template.ftl" as layout>
<#import "field.ftl" as field>
<#import "buttons.ftl" as buttons>
<#import "social-providers.ftl" as identityProviders>
<#assign pwresetQuery = "kc_locale=" + ((locale.currentLanguageTag)!"en")?url("UTF-8")
    + "&return_to=" + ((url.loginRestartFlowUrl)!"")?url("UTF-8")>
<#assign pwresetSignup = (properties.pwresetSignup!"true") == "true">
<@layout.registrationLayout displayMessage=!messagesPerField.existsError('username','password') displayInfo=(realm.password && pwresetSignup); section>
    <#if section = "header">
        ${msg("loginAccountTitle")}
    <#elseif section = "form">
        <div id="kc-form">
          <div id="kc-form-wrapper">
            <#if realm.password>
                <form id="kc-form-login" class="${properties.kcFormClass!}" action="${url.loginAction}" method="post" novalidate="novalidate">
                    <#if !usernameHidden??>
                        <#assign label>
                            <#if !realm.loginWithEmailAllowed>${msg("username")}<#elseif !realm.registrationEmailAsUsername>${msg("usernameOrEmail")}<#else>${msg("email")}</#if>
                        </#assign>
                        <@field.input name="username" label=label error=messagesPerField.getFirstError('username','password') autofocus=true autocomplete="username" value=login.username!'' />
                    </#if>
                    <@field.password name="password" label=msg("password") error="" autofocus=usernameHidden?? autocomplete="current-password">
                        <div class="${properties.kcInputHelperTextItemClass}">
                          <span class="${properties.kcInputHelperTextItemTextClass}">
                            <a id="pwreset-forgot-password" href="${properties.pwresetUrl}/forgot-password?${pwresetQuery}">${msg("pwresetForgotPassword")}</a>
                          </span>
                        </div>
                    </@field.password>
                    <#if realm.rememberMe && !usernameHidden??>
                        <@field.checkbox name="rememberMe" label=msg("rememberMe") value=login.rememberMe?? />
                    </#if>
                    <input type="hidden" id="id-hidden-input" name="credentialId" <#if auth.selectedCredential?has_content>value="${auth.selectedCredential}"</#if>/>
                    <@buttons.loginButton />
                </form>
            </#if>
          </div>
        </div>
    <#elseif section = "socialProviders">
        <#if realm.password && social.providers?? && social.providers?has_content>
            <@identityProviders.show social=social/>
        </#if>
    <#elseif section = "info">
        <div id="kc-registration-container">
            <div id="kc-registration">
                <span>${msg("noAccount")} <a id="pwreset-register" href="${properties.pwresetUrl}/signup?${pwresetQuery}">${msg("pwresetRegister")}</a></span>
            </div>
        </div>
    </#if>
</@layout.registrationLayout>
