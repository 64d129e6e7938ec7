//! `#[handlers]`: an actor's messages declared once, beside their handlers.
//!
//! On an `impl` block of an actor, every method marked `#[wire("name")]`
//! handles the message type of its one argument and answers what its
//! `Reply<...>` holds. From that declaration follow the message's reply type
//! (`actix::Message`), its name on the wire (`WireMessage`), the runtime's
//! `Handles` impl, the instrumented mailbox, and the hosting side of remote
//! calls (`Hosted`: the names the kind answers and how one is answered by
//! name). A method marked `#[answers]` handles a message declared elsewhere
//! (an event delivery, a dependency check). Each method carries at least one
//! `#[example(message => reply)]`, which the wire test sends through JSON and
//! back; a method without one does not compile.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{
    parse_macro_input, Attribute, Expr, FnArg, GenericArgument, ImplItem, ItemImpl, LitStr,
    PathArguments, ReturnType, Token, Type,
};

/// `message => reply`, both expressions.
struct Example {
    message: Expr,
    reply: Expr,
}

impl Parse for Example {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let message = input.parse()?;
        input.parse::<Token![=>]>()?;
        let reply = input.parse()?;
        Ok(Example { message, reply })
    }
}

/// One handler of the block, as its attributes declare it.
struct Handler {
    method: syn::Ident,
    message: Type,
    result: Type,
    /// `Some` for a message declared here, `None` for one declared elsewhere.
    wire_name: Option<LitStr>,
    examples: Vec<Example>,
}

#[proc_macro_attribute]
pub fn handlers(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(Span::call_site(), "#[handlers] takes no arguments")
            .to_compile_error()
            .into();
    }
    let mut block = parse_macro_input!(item as ItemImpl);
    match expand(&mut block) {
        Ok(tokens) => tokens.into(),
        Err(err) => err.to_compile_error().into(),
    }
}

fn expand(block: &mut ItemImpl) -> syn::Result<proc_macro2::TokenStream> {
    if block.trait_.is_some() {
        return Err(syn::Error::new(
            block.span(),
            "#[handlers] goes on the actor's own impl block, not on a trait impl",
        ));
    }
    let actor = block.self_ty.clone();
    let mut handlers = Vec::new();
    for item in &mut block.items {
        let ImplItem::Fn(method) = item else { continue };
        let Some(handler) = handler_of(method)? else {
            continue;
        };
        handlers.push(handler);
    }

    let mut declared = Vec::new();
    let mut handles = Vec::new();
    let mut examples = Vec::new();
    for handler in &handlers {
        let Handler {
            method,
            message,
            result,
            wire_name,
            ..
        } = handler;
        if let Some(name) = wire_name {
            let type_name = LitStr::new(&quote!(#message).to_string(), message.span());
            declared.push(quote! {
                impl ::actix::Message for #message {
                    type Result = #result;
                }

                impl crate::runtime::WireMessage for #message {
                    type Reply = <#result as crate::runtime::ReplyOf>::Reply;
                    const NAME: &'static str = #name;
                    const TYPE_NAME: &'static str = #type_name;
                }
            });
        }
        handles.push(quote! {
            impl crate::runtime::Handles<#message> for #actor {
                fn handle(
                    &mut self,
                    msg: #message,
                    ctx: &mut ::actix::Context<Self>,
                ) -> crate::runtime::Reply<#result> {
                    Self::#method(self, msg, ctx)
                }
            }
        });
        for Example {
            message: sent,
            reply,
        } in &handler.examples
        {
            examples.push(quote! {
                crate::runtime::WireExample::of::<#message>(#sent, #reply)
            });
        }
    }
    let messages: Vec<_> = handlers.iter().map(|handler| &handler.message).collect();

    Ok(quote! {
        #block

        #(#declared)*

        #(#handles)*

        impl<M> ::actix::Handler<crate::runtime::Envelope<M>> for #actor
        where
            Self: crate::runtime::Handles<M>,
            M: crate::runtime::WireMessage,
        {
            type Result = crate::runtime::Delivery<Self, M::Result>;

            fn handle(
                &mut self,
                envelope: crate::runtime::Envelope<M>,
                ctx: &mut ::actix::Context<Self>,
            ) -> Self::Result {
                crate::runtime::deliver(self, envelope, ctx)
            }
        }

        impl crate::runtime::Hosted for #actor {
            const MESSAGES: &'static [&'static str] =
                &[#(<#messages as crate::runtime::WireMessage>::NAME),*];

            fn dispatch(
                address: &crate::runtime::Address<Self>,
                name: &str,
                body: &[u8],
            ) -> ::futures_util::future::LocalBoxFuture<
                'static,
                Result<Vec<u8>, crate::runtime::DispatchError>,
            > {
                #(
                    if name == <#messages as crate::runtime::WireMessage>::NAME {
                        return crate::runtime::answer_remote::<Self, #messages>(address, body);
                    }
                )*
                let name = name.to_owned();
                Box::pin(async move { Err(crate::runtime::DispatchError::UnknownMessage(name)) })
            }

            #[cfg(test)]
            fn examples() -> Vec<crate::runtime::WireExample> {
                #[allow(unused_imports)]
                use crate::actors::examples::*;
                vec![#(#examples),*]
            }
        }
    })
}

/// Reads and strips the `#[wire]`, `#[answers]` and `#[example]`
/// attributes of one method; `None` for a method that handles nothing.
fn handler_of(method: &mut syn::ImplItemFn) -> syn::Result<Option<Handler>> {
    let mut wire_name = None;
    let mut answers = false;
    let mut examples = Vec::new();
    let mut kept: Vec<Attribute> = Vec::new();
    for attr in method.attrs.drain(..) {
        if attr.path().is_ident("wire") {
            wire_name = Some(attr.parse_args::<LitStr>()?);
        } else if attr.path().is_ident("answers") {
            attr.meta.require_path_only()?;
            answers = true;
        } else if attr.path().is_ident("example") {
            examples.push(attr.parse_args::<Example>()?);
        } else {
            kept.push(attr);
        }
    }
    method.attrs = kept;
    if wire_name.is_none() && !answers {
        if !examples.is_empty() {
            return Err(syn::Error::new(
                method.sig.ident.span(),
                "#[example] belongs to a #[wire] or #[answers] handler",
            ));
        }
        return Ok(None);
    }
    if wire_name.is_some() && answers {
        return Err(syn::Error::new(
            method.sig.ident.span(),
            "a handler is either #[wire(\"name\")] (its message is declared here) or #[answers] (declared elsewhere)",
        ));
    }
    if examples.is_empty() {
        return Err(syn::Error::new(
            method.sig.ident.span(),
            "a handler needs an #[example(message => reply)] for the wire test",
        ));
    }
    let message = match method.sig.inputs.iter().nth(1) {
        Some(FnArg::Typed(argument)) => (*argument.ty).clone(),
        _ => {
            return Err(syn::Error::new(
                method.sig.span(),
                "a handler takes (&mut self, message, &mut Context<Self>)",
            ))
        }
    };
    let result = reply_of(&method.sig.output).ok_or_else(|| {
        syn::Error::new(
            method.sig.output.span(),
            "a handler answers Reply<Result<T, ActorError>>",
        )
    })?;
    Ok(Some(Handler {
        method: format_ident!("{}", method.sig.ident),
        message,
        result,
        wire_name,
        examples,
    }))
}

/// The `R` of `-> Reply<R>`.
fn reply_of(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let Type::Path(path) = &**ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Reply" {
        return None;
    }
    let PathArguments::AngleBracketed(arguments) = &last.arguments else {
        return None;
    };
    match arguments.args.first()? {
        GenericArgument::Type(result) => Some(result.clone()),
        _ => None,
    }
}
