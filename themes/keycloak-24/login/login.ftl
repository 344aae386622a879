<#--
  keycloak-pwreset for Keycloak 24 and 25: the realm's sign-in form, written for this
  project on the keycloak.v2 layout (template.ftl) and its class properties. As in the
  theme for Keycloak 26, "Forgot password?" and "Register" go to the companion service
  with the page's language and the way back to this very login.
-->
<#import "template.ftl" as layout>
<#assign pwresetQuery = "kc_locale=" + ((locale.currentLanguageTag)!"en")?url("UTF-8")
    + "&return_to=" + ((url.loginRestartFlowUrl)!"")?url("UTF-8")>
<#assign pwresetSignup = (properties.pwresetSignup!"true") == "true">
<#assign failed = messagesPerField.existsError('username','password')>
<@layout.registrationLayout displayMessage=!failed displayInfo=(realm.password && pwresetSignup); section>
    <#if section = "header">
        ${msg("loginAccountTitle")}
    <#elseif section = "form">
        <div id="kc-form">
          <div id="kc-form-wrapper">
            <#if realm.password>
                <form id="kc-form-login" class="${properties.kcFormClass!}" action="${url.loginAction}" method="post" novalidate="novalidate">
                    <#if !usernameHidden??>
                        <div class="${properties.kcFormGroupClass!}">
                            <label for="username" class="${properties.kcLabelClass!}"><span class="pf-v5-c-form__label-text"><#if !realm.loginWithEmailAllowed>${msg("username")}<#elseif !realm.registrationEmailAsUsername>${msg("usernameOrEmail")}<#else>${msg("email")}</#if></span></label>
                            <span class="${properties.kcInputClass!} ${failed?then('pf-m-error', '')}">
                                <input id="username" name="username" value="${(login.username!'')}" type="text" autofocus autocomplete="username" aria-invalid="${failed?c}"/>
                            </span>
                            <#if failed>
                                <span id="input-error" class="${properties.kcInputErrorMessageClass!}" aria-live="polite">${kcSanitize(messagesPerField.getFirstError('username','password'))?no_esc}</span>
                            </#if>
                        </div>
                    </#if>
                    <div class="${properties.kcFormGroupClass!}">
                        <label for="password" class="${properties.kcLabelClass!}"><span class="pf-v5-c-form__label-text">${msg("password")}</span></label>
                        <span class="${properties.kcInputClass!}">
                            <input id="password" name="password" type="password" autocomplete="current-password" aria-invalid="${failed?c}"/>
                        </span>
                        <div class="${properties.kcFormOptionsWrapperClass!}">
                            <a id="pwreset-forgot-password" href="${properties.pwresetUrl}/forgot-password?${pwresetQuery}">${msg("pwresetForgotPassword")}</a>
                        </div>
                    </div>
                    <#if realm.rememberMe && !usernameHidden??>
                        <div class="${properties.kcFormGroupClass!}">
                            <label><input id="rememberMe" name="rememberMe" type="checkbox" <#if login.rememberMe??>checked</#if>> ${msg("rememberMe")}</label>
                        </div>
                    </#if>
                    <div id="kc-form-buttons" class="${properties.kcFormGroupClass!}">
                        <input type="hidden" id="id-hidden-input" name="credentialId" <#if auth.selectedCredential?has_content>value="${auth.selectedCredential}"</#if>/>
                        <input class="${properties.kcButtonClass!} ${properties.kcButtonPrimaryClass!} ${properties.kcButtonBlockClass!} ${properties.kcButtonLargeClass!}" name="login" id="kc-login" type="submit" value="${msg("doLogIn")}"/>
                    </div>
                </form>
            </#if>
          </div>
        </div>
    <#elseif section = "info">
        <div id="kc-registration-container">
            <div id="kc-registration">
                <span>${msg("noAccount")} <a id="pwreset-register" href="${properties.pwresetUrl}/signup?${pwresetQuery}">${msg("pwresetRegister")}</a></span>
            </div>
        </div>
    </#if>
</@layout.registrationLayout>
